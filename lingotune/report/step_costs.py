"""Time and peak memory of every step a run took, from the steps' done markers: what a user sizing a
machine or a bigger run needs first (which step is the long one, which needs the memory)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from lingotune.core.layout import RunLayout
from lingotune.report.document import Block, Heading, Para, Table
from lingotune.report.run_files import run_info


def _read(path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and "seconds" in record else None


def step_cost_blocks(run_dir: Path) -> list[Block]:
    """A table in the order the steps ran (run_info's ``steps_done``, then any other marker); nothing when
    no marker is readable."""
    layout = RunLayout(Path(run_dir))
    info = run_info(Path(run_dir))
    by_file = {layout.step_marker(name): name for name in info.get("steps_done") or []}
    if layout.steps.is_dir():
        by_file.update({p: p.stem for p in sorted(layout.steps.glob("*.json")) if p not in by_file})
    rows = []
    for path, name in by_file.items():
        record = _read(path)
        if record is None:
            continue
        peak = record.get("peak_rss_mb")
        rows.append([name, f"{float(record['seconds']) / 60:.1f}", f"{peak:,.0f}" if peak is not None else "—"])
    if not rows:
        return []
    return [Heading("Time and memory per step"), Table(["step", "minutes", "peak RSS MB"], rows),
            Para("Peak RSS: the run process's resident high-water mark during the step (Linux; reset before "
                 "each step; an accelerate-launched training step's own processes are not in it).")]

