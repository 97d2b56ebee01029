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
    done = lingotune("run", str(REPO / "recipes" / "code_multilingual.yaml"), *overrides)
    assert done.returncode == 0, done.stderr[-3000:]
    info = json.loads((tmp_path / "run_info.json").read_text())
    assert info["stages"] == ["base", "code", "language", "layer_swap", "ties"]
    summary = json.loads((tmp_path / "eval" / "code" / "summary.json").read_text())["tasks"]
    assert set(summary["humaneval_xl_es_pass10"]["metrics"]) == {"pass@1", "pass@2"}
    assert summary["humaneval_xl_en"]["isolation"].startswith(("bwrap", "unshare"))
    records = [json.loads(line) for line in (tmp_path / "eval" / "code" / "humaneval_xl_es.jsonl").open()]
    assert len(records) == 3 and {"status", "stderr_tail", "pass@1"} <= set(records[0]["scores"])
    report = (tmp_path / "report.md").read_text()
    section = report[report.index("## English tax"):].split("\n## ")[0]
    # every stage pairs Spanish and Chinese with English (same HumanEval-XL ids); mHumanEval is not paired
    assert section.count("| humaneval_xl_zh |") == 5 and section.count("| humaneval_xl_es |") == 5
    assert "mhumaneval_hi" not in section
