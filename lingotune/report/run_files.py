"""Reading a run folder for reports and comparisons, tolerant of a crashed or half-written run:
missing or unreadable pieces come back empty (and are counted) instead of raising."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from lingotune.core.errors import DataError
from lingotune.core.layout import RunLayout
from lingotune.core.run_record import RunRecord
from lingotune.report.plots import LossPoint

DASH = "—"




def is_number(value: object) -> bool:
    """Finite ints and floats only: bools are ints in Python but never a score."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _read_json(path: Path) -> Any:
    """Parse a JSON file, turning a parse error into a DataError that names the file and line."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DataError(str(path), f"{err.lineno}:{err.colno}", f"not valid JSON ({err.msg})") from err


def run_info(run_dir: Path) -> dict[str, Any]:
    """``run_info.json`` read back through the typed ``RunRecord`` (values coerced, keys the file has);
    empty when absent or unreadable, since every field is optional for a report."""
    path = RunLayout(Path(run_dir)).info
    if not path.is_file():
        return {}
    try:
        raw = _read_json(path)
        return RunRecord.model_validate(raw).model_dump(exclude_unset=True) if isinstance(raw, dict) else {}
    except (DataError, ValidationError):
        return {}


def stage_names(run_dir: Path) -> list[str]:
    """Evaluation stages in run order.

    ``run_info.json`` "stages" is authoritative because only the trainer knows the order of
    intermediate stages; without it, the directories under ``eval/`` are used, with "base" first,
    "final" last and anything else alphabetically between.
    """
    run_dir = Path(run_dir)
    stages = run_info(run_dir).get("stages")
    if isinstance(stages, list) and stages and all(isinstance(s, str) for s in stages):
        return list(dict.fromkeys(stages))
    eval_dir = run_dir / "eval"
    found = sorted(p.name for p in eval_dir.iterdir() if p.is_dir() and not p.name.startswith(".")) \
        if eval_dir.is_dir() else []
    middle = [s for s in found if s not in ("base", "final")]
    return [s for s in ("base",) if s in found] + middle + [s for s in ("final",) if s in found]


def load_stage_summary(run_dir: Path, stage: str) -> dict[str, Any]:
    """``eval/<stage>/summary.json``; ``{"stage": stage, "tasks": {}}`` when the stage was not evaluated.

    A missing summary is normal (single-stage runs, a run that died before "final"), so it is an empty
    result; a summary that exists but is not valid JSON raises DataError, because that is a bug to see.
    """
    path = RunLayout(Path(run_dir)).summary(stage)
    if not path.is_file():
        return {"stage": stage, "tasks": {}}
    summary = _read_json(path)
    if not isinstance(summary, dict):
        raise DataError(str(path), "1", "expected a JSON object")
    if not isinstance(summary.get("tasks"), dict):
        summary["tasks"] = {}
    return summary


def _jsonl(path: Path) -> tuple[list[dict[str, Any]], int]:
    """Objects of a JSON-lines file and how many lines were unreadable (e.g. cut by a crash)."""
    rows: list[dict[str, Any]] = []
    bad = 0
    if not path.is_file():
        return rows, bad
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            bad += 1
            continue
        if isinstance(row, dict):
            rows.append(row)
        else:
            bad += 1
    return rows, bad


def load_loss_points(run_dir: Path) -> tuple[list[LossPoint], int]:
    """Loss-curve points of ``metrics.jsonl``; lines without a numeric step and loss are not steps."""
    rows, bad = _jsonl(RunLayout(Path(run_dir)).metrics)
    points = [
        LossPoint(float(r["step"]), float(r["loss"]), r["phase"] if isinstance(r.get("phase"), str) else None)
        for r in rows
        if is_number(r.get("step")) and is_number(r.get("loss"))
    ]
    return points, bad


def load_items(run_dir: Path, stage: str, task: str) -> list[dict[str, Any]]:
    """Per-item records of one task in one stage, in file order; empty when the file is absent."""
    return _jsonl(RunLayout(Path(run_dir)).eval_dir(stage) / f"{task}.jsonl")[0]


