"""Golden test: today's end-to-end results of the tiny-random-model recipes, pinned.

Each recipe runs once, through the real CLI (``python -m lingotune.cli run RECIPE output_dir=...``),
with a fresh ``LINGOTUNE_CACHE``, so that the tiny model, the base evaluation and merged models are
computed again and not reused from an earlier run. The run is then compared with
``tests/assets/golden/<recipe>.json``:

* every per-step training loss in ``metrics.jsonl``, keyed by phase (when there is one) and step;
* the list of evaluated stages (the folders under ``eval/``);
* for every stage and task in ``eval/<stage>/summary.json``: every metric's value, CI low and high,
  and the task's other descriptive fields (kind, language, n, protocol, ...), without time fields;
* for every ``eval/<stage>/<task>.jsonl``: the item count and sha256 digests of the ordered ``output``
  fields (and of ``first_turn``, written by the two-turn protocol), plus a digest of the ordered
  ``id``/``prompt`` pairs, so that any change in item selection, prompting or generation shows.

Only the run folder's files are read: no ``run_info.json`` and no lingotune internals, because those
interfaces are expected to change while the results must not. Time and duration fields (``time_s``,
``eval_time_s``, ``train_runtime``) are ignored. Two identical runs gave identical snapshots (every
field above, bit for bit), so nothing had to be left out for non-determinism; the tolerances only
leave slack for other thread counts.

On the tiny random model every metric is 0 or NaN (e.g. fidelity when no answer can be classified)
and most outputs are empty strings; the losses and the output digests carry most of the signal.

Regenerate the goldens only with ``tests/golden_regen.py``, and only for a change meant to alter results.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any

import pytest

from tests.test_run_tiny import lingotune

REPO = Path(__file__).resolve().parent.parent
ASSETS = REPO / "tests" / "assets"
GOLDEN_DIR = ASSETS / "golden"
RECIPES = ("tiny", "tiny_phases", "tiny_xcit", "tiny_modular")

LOSS_REL, LOSS_ABS = 1e-4, 1e-5
METRIC_ABS = 1e-6
TIME_FIELDS = ("time_s", "eval_time_s", "train_runtime")

pytestmark = pytest.mark.slow  # the four recipes take about 5-6 minutes together on 2 busy CPU cores


# --- running and snapshotting (shared with tests/golden_regen.py) ---------------------------------


def run_recipe(name: str, workdir: Path) -> Path:
    """``lingotune run tests/assets/NAME.yaml`` into ``workdir/NAME`` with a cache of its own."""
    run_dir = workdir / name
    done = lingotune("run", str(ASSETS / f"{name}.yaml"), f"output_dir={run_dir}",
                     env={"LINGOTUNE_CACHE": str(workdir / f"cache-{name}")})
    assert done.returncode == 0, f"{name}: lingotune run failed\n{done.stderr[-3000:]}"
    return run_dir


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _digest(values: list[Any]) -> str:
    return hashlib.sha256(json.dumps(values, ensure_ascii=False).encode("utf-8")).hexdigest()


def _number(value: Any) -> Any:
    """JSON-safe number: NaN and infinities become the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return value


def _loss_key(record: dict[str, Any]) -> str:
    step = f"{int(record['step']):04d}"
    return f"{record['phase']}:{step}" if record.get("phase") is not None else step


def snapshot(run_dir: Path) -> dict[str, Any]:
    """What the golden pins, read from the run folder's files only."""
    losses: dict[str, float] = {}
    for record in _jsonl(run_dir / "metrics.jsonl"):
        if "loss" in record:
            key = _loss_key(record)
            assert key not in losses, f"two loss records for {key}"
            losses[key] = record["loss"]
    stages = sorted(p.name for p in (run_dir / "eval").iterdir() if (p / "summary.json").is_file())
    evaluation: dict[str, Any] = {}
    for stage in stages:
        summary = json.loads((run_dir / "eval" / stage / "summary.json").read_text(encoding="utf-8"))
        tasks: dict[str, Any] = {}
        for task, task_summary in summary["tasks"].items():
            records = _jsonl(run_dir / "eval" / stage / f"{task}.jsonl")
            entry: dict[str, Any] = {
                "metrics": {
                    metric: {bound: _number(values[bound]) for bound in ("value", "low", "high")}
                    for metric, values in task_summary["metrics"].items()
                },
                "info": {k: _number(v) for k, v in task_summary.items()
                         if k != "metrics" and k not in TIME_FIELDS and not isinstance(v, dict | list)},
                "n_records": len(records),
                "inputs_sha256": _digest([[r.get("id"), r.get("prompt")] for r in records]),
                "outputs_sha256": _digest([r["output"] for r in records]),
            }
            if any("first_turn" in r for r in records):
                entry["first_turn_sha256"] = _digest([r.get("first_turn") for r in records])
            tasks[task] = entry
        evaluation[stage] = tasks
    return {"losses": losses, "stages": stages, "eval": evaluation}


def golden_path(name: str) -> Path:
    return GOLDEN_DIR / f"{name}.json"


def write_golden(name: str, snap: dict[str, Any]) -> Path:
    path = golden_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"recipe": f"tests/assets/{name}.yaml", **snap}, indent=1, sort_keys=True,
                               ensure_ascii=False, allow_nan=False) + "\n", encoding="utf-8")
    return path


# --- the test -----------------------------------------------------------------------------------


def _close(got: Any, want: Any, rel: float, abs_: float) -> bool:
    if isinstance(want, str) or isinstance(got, str):  # "NaN" / "Infinity" markers
        return got == want
    return math.isclose(got, want, rel_tol=rel, abs_tol=abs_)


@pytest.fixture(scope="module", params=RECIPES)
def recipe_run(request, tmp_path_factory) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(recipe name, fresh snapshot, golden); each recipe runs once per module."""
    name: str = request.param
    golden = json.loads(golden_path(name).read_text(encoding="utf-8"))
    return name, snapshot(run_recipe(name, tmp_path_factory.mktemp(f"golden-{name}"))), golden


def test_training_losses_match_golden(recipe_run):
    name, got, want = recipe_run
    assert sorted(got["losses"]) == sorted(want["losses"]), f"{name}: logged steps/phases differ"
    wrong = {key: (got["losses"][key], value) for key, value in want["losses"].items()
             if not _close(got["losses"][key], value, LOSS_REL, LOSS_ABS)}
    assert not wrong, f"{name}: losses differ (got, golden): {wrong}"


def test_stages_and_tasks_match_golden(recipe_run):
    name, got, want = recipe_run
    assert got["stages"] == want["stages"], f"{name}: evaluated stages differ"
    for stage in want["stages"]:
        assert sorted(got["eval"][stage]) == sorted(want["eval"][stage]), f"{name}/{stage}: tasks differ"


def test_eval_metrics_match_golden(recipe_run):
    name, got, want = recipe_run
    wrong: dict[str, Any] = {}
    for stage, tasks in want["eval"].items():
        for task, expected in tasks.items():
            actual = got["eval"].get(stage, {}).get(task)
            where = f"{stage}/{task}"
            if actual is None:
                wrong[where] = "missing"
                continue
            # fields the golden holds must be unchanged; new descriptive fields may be added
            # (``bootstrap_resamples`` was, so reports resample paired CIs as often as the evaluation did)
            kept = {k: actual["info"].get(k) for k in expected["info"]}
            if kept != expected["info"]:
                wrong[f"{where} info"] = (kept, expected["info"])
            if sorted(actual["metrics"]) != sorted(expected["metrics"]):
                wrong[f"{where} metric names"] = (sorted(actual["metrics"]), sorted(expected["metrics"]))
                continue
            for metric, bounds in expected["metrics"].items():
                for bound, value in bounds.items():
                    if not _close(actual["metrics"][metric][bound], value, 0.0, METRIC_ABS):
                        wrong[f"{where} {metric}.{bound}"] = (actual["metrics"][metric][bound], value)
    assert not wrong, f"{name}: evaluation summaries differ (got, golden): {wrong}"


def test_eval_outputs_match_golden(recipe_run):
    name, got, want = recipe_run
    fields = ("n_records", "inputs_sha256", "outputs_sha256", "first_turn_sha256")
    wrong = {
        f"{stage}/{task} {field}": (got["eval"].get(stage, {}).get(task, {}).get(field), expected.get(field))
        for stage, tasks in want["eval"].items() for task, expected in tasks.items() for field in fields
        if got["eval"].get(stage, {}).get(task, {}).get(field) != expected.get(field)
    }
    assert not wrong, f"{name}: per-item eval records differ (got, golden): {wrong}"
