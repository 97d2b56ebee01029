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
        rows.append([name, f"{float(record['seconds']) / 60:.1f}", _mb(record.get("peak_rss_mb")),
                     _mb(record.get("rss_start_mb"))])
    if not rows:
        return []
    return [Heading("Time and memory per step"), Table(["step", "minutes", "peak RSS MB", "RSS at start MB"], rows),
            Para("Peak RSS: the run process's resident memory at its highest during the step (Linux: the kernel's "
                 "high-water mark when the step set a new one, else sampled every 20 ms; an accelerate-launched "
                 "training step's own processes are not in it). The run's peak is the largest of them. RSS at "
                 "start: what the process held when the step began, after the previous step's caches were "
                 "freed (older runs did not record it).")]


def _mb(value: Any) -> str:
    return f"{float(value):,.0f}" if value is not None else "—"

