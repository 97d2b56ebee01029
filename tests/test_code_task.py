"""``kind: code``: items per sample, sandboxed scoring into pass@k, the English tax in the report, and the
shipped recipe end to end on the tiny model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from pydantic import ValidationError

from lingotune.eval.tasks.code import CodeTask

REPO = Path(__file__).resolve().parent.parent
SPANISH = REPO / "data" / "code" / "humaneval_xl_python" / "Spanish.jsonl"


def fenced(code: str) -> str:
    return f"Aquí está la función:\n\n```python\n{code}\n```\n\nEjemplo: print(f(1))"


def test_samples_are_items_and_pass_at_k_comes_from_the_sandbox():
    task = CodeTask(name="es", kind="code", path=str(SPANISH), language="es", max_items=4, samples=3, k=[1, 2, 5])
    items = task.load_items()
    assert len(items) == 12 and items[0].id.endswith("#0") and items[2].id.endswith("#2")
    assert "```python" in items[0].conversation[-1]["content"]
    seeds = task.sampling(items).seeds
    assert len(set(seeds)) == 12
    outputs = []
    for item in items:
        problem = item.meta["problem"]
        right = problem.prompt + problem.canonical_solution
        wrong = f"def {problem.entry_point}(*args):\n    return None"
        # problem 0: all samples right; 1: one of three; 2: none; 3: all right
        ok = {0: True, 1: item.meta["sample"] == 0, 2: False}.get(items.index(item) // 3, True)
        outputs.append(fenced(right if ok else wrong))
    scores = task.score(items, outputs, [{}] * len(items), resamples=200)
    expected_pass1 = 100 * (1 + 1 / 3 + 0 + 1) / 4
    assert scores.metrics["pass@1"]["value"] == pytest.approx(expected_pass1)
    assert scores.metrics["pass@2"]["value"] == pytest.approx(100 * (1 + (1 - 1 / 3) + 0 + 1) / 4)
    assert "pass@5" not in scores.metrics  # only 3 samples per problem
    assert [p["pass@1"] for p in scores.per_item[3:6]] == [100.0, 0.0, 0.0]
    assert scores.extra["statuses"] == {"passed": 7, "failed": 5} and scores.extra["solved_problems"] == 3
    assert scores.extra["isolation"].startswith(("bwrap", "unshare"))


def test_greedy_when_one_sample_and_no_isolation_needs_explicit_unsafe():
    task = CodeTask(name="es", kind="code", path=str(SPANISH), language="es", max_items=2)
    assert task.sampling(task.load_items()) is None
    with pytest.raises(ValidationError, match="unsafe_exec: true"):
        CodeTask(name="x", kind="code", path=str(SPANISH), language="es", isolation="none")


def test_code_recipe_runs_on_the_tiny_model_with_the_english_tax(tmp_path):
    from tests.test_run_tiny import lingotune

    overrides = ["model.source=tiny-random", "train.max_steps=2", "train.dtype=float32", f"output_dir={tmp_path}"]
    overrides += [f"eval.tasks.{k}.{key}={value}" for k in range(5) for key, value in
                  (("max_items", 3), ("max_new_tokens", 12))]
    overrides += ["eval.tasks.4.samples=2", "eval.tasks.4.k=[1,2]"]
    # the tiny model has 4 blocks: 1 bottom, 1 top, no transition from the language expert
    overrides += ["variants.0.merge.bottom=1", "variants.0.merge.top=1", "variants.0.merge.transition=0"]
    # the translated-prompts expert untranslated: the tiny model's output loses the code masks, so the translator
    # keeps nothing (the translate step is tested in test_translate*.py)
    overrides += ["experts.2.data.sources.0.translate=null", "experts.2.data.sources.0.max_examples=8"]
    done = lingotune("run", str(REPO / "recipes" / "code_multilingual.yaml"), *overrides)
    assert done.returncode == 0, done.stderr[-3000:]
    info = json.loads((tmp_path / "run_info.json").read_text())
    assert info["stages"] == ["base", "code", "language", "code_es_translated", "layer_swap", "ties"]
    summary = json.loads((tmp_path / "eval" / "code" / "summary.json").read_text())["tasks"]
    assert set(summary["humaneval_xl_es_pass10"]["metrics"]) == {"pass@1", "pass@2"}
    assert summary["humaneval_xl_en"]["isolation"].startswith(("bwrap", "unshare"))
    records = [json.loads(line) for line in (tmp_path / "eval" / "code" / "humaneval_xl_es.jsonl").open()]
    assert len(records) == 3 and {"status", "stderr_tail", "pass@1"} <= set(records[0]["scores"])
    report = (tmp_path / "report.md").read_text()
    section = report[report.index("## English tax"):].split("\n## ")[0]
    # every stage pairs Spanish and Chinese with English (same HumanEval-XL ids); mHumanEval is not paired
    assert section.count("| humaneval_xl_zh |") == 6 and section.count("| humaneval_xl_es |") == 6
    assert "mhumaneval_hi" not in section


def _no_isolation_recipe(tmp_path: Path) -> Path:
    recipe = tmp_path / "code.yaml"
    recipe.write_text(f"""name: code_none
language: es
model: {{source: tiny-random}}
eval:
  tasks:
    - {{name: es, kind: code, path: {SPANISH}, language: es, max_items: 2, isolation: none}}
""")
    return recipe


def test_unsafe_exec_flag_is_what_allows_running_without_isolation(tmp_path):
    from typer.testing import CliRunner

    from lingotune.cli.app import app

    recipe = _no_isolation_recipe(tmp_path)
    refused = CliRunner().invoke(app, ["run", str(recipe), "--dry-run"])
    said = " ".join(refused.output.split())  # rich wraps at the terminal width
    assert refused.exit_code != 0 and "--unsafe-exec" in said and "code.yaml:6" in said
    allowed = CliRunner().invoke(app, ["run", str(recipe), "--dry-run", "--unsafe-exec"])
    assert allowed.exit_code == 0, allowed.output
    assert "recipe checked" in allowed.output and "--unsafe-exec" in allowed.output  # the warning
    no_code = tmp_path / "plain.yaml"
    no_code.write_text(recipe.read_text().replace("kind: code", "kind: qa"))
    pointless = CliRunner().invoke(app, ["run", str(no_code), "--dry-run", "--unsafe-exec"])
    assert pointless.exit_code != 0 and "has none" in pointless.output


def test_without_a_working_sandbox_scoring_refuses_unless_unsafe_exec(tmp_path, monkeypatch):
    """Isolation made unavailable (every probe fails, as on a kernel without user namespaces and no bwrap):
    the task loaded from a recipe refuses to run programs; loaded with --unsafe-exec it runs them, limits only."""
    from lingotune.eval.code_exec.sandbox import Sandbox, SandboxUnavailableError
    from lingotune.plan import load_recipe

    monkeypatch.setattr(Sandbox, "_probe", lambda self, option: "simulated: namespaces disabled")
    recipe = tmp_path / "auto.yaml"
    recipe.write_text(_no_isolation_recipe(tmp_path).read_text().replace("isolation: none", "isolation: auto"))

    def score(unsafe: bool):
        task = load_recipe(recipe, unsafe_exec=unsafe).eval.tasks[0]
        items = task.load_items()
        outputs = [fenced(i.meta["problem"].prompt + i.meta["problem"].canonical_solution) for i in items]
        return task.score(items, outputs, [{}] * len(items), resamples=50)

    with pytest.raises(SandboxUnavailableError, match="--unsafe-exec"):
        score(False)
    scores = score(True)
    assert scores.metrics["pass@1"]["value"] == 100.0
    assert scores.extra["isolation"].startswith("none (UNSAFE")
