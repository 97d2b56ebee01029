"""The two components added to show the registries: a builder and a task kind, each one module plus
its import line, tested through a real recipe."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from lingotune.data.recipe_builders import BuildContext
from lingotune.data.spec import DataSpec
from lingotune.eval.spec import EvalSpec
from lingotune.eval.translation import chrf_ci

REPO = Path(__file__).resolve().parent.parent
REPLAY = REPO / "data" / "quickstart" / "instructions_en" / "self_instruct.alpaca.jsonl"


def test_system_prompt_builder_puts_one_system_turn_first():
    data = DataSpec.model_validate({"sources": [{"name": "replay", "path": str(REPLAY), "format": "alpaca",
                                                  "language": "en", "builder": "system_prompt",
                                                  "system": "Answer in English."}]})
    source = data.sources[0]
    built = source.build(source.load(), BuildContext())
    assert built and all(e.messages[0] == {"role": "system", "content": "Answer in English."} for e in built)
    assert all(sum(m["role"] == "system" for m in e.messages) == 1 for e in built)
    again = source.build(built, BuildContext())  # an existing system turn is replaced, not stacked
    assert [e.messages for e in again] == [e.messages for e in built]


def test_reference_chrf_task_scores_answers_against_references(tiny_model, tmp_path):
    task = {"name": "open_en", "kind": "reference_chrf", "path": str(REPLAY), "format": "alpaca", "language": "en",
            "max_items": 3, "max_new_tokens": 6}
    spec = EvalSpec.model_validate({"tasks": [task], "bootstrap_resamples": 20})
    assert spec.tasks[0].kind_name == "reference_chrf"
    recipe = tmp_path / "r.yaml"
    recipe.write_text(json.dumps({"name": "refchrf", "language": "en", "model": {"source": "tiny-random"},
                                  "output_dir": str(tmp_path / "run"),
                                  "eval": {"tasks": [task], "bootstrap_resamples": 20, "dtype": "float32"}}))
    done = subprocess.run([sys.executable, "-m", "lingotune.cli", "run", str(recipe)], capture_output=True,
                          text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads(line) for line in (tmp_path / "run" / "eval" / "base" / "open_en.jsonl").read_text()
               .splitlines()]
    summary = json.loads((tmp_path / "run" / "eval" / "base" / "summary.json").read_text())["tasks"]["open_en"]
    assert summary["kind"] == "reference_chrf" and len(records) == 3
    value, _, _ = chrf_ci([r["output"] for r in records], [r["reference"] for r in records], n_resamples=20)
    assert summary["metrics"]["chrf"]["value"] == value
