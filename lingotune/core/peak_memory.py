"""Peak resident memory per run step, so a run folder says which step needs the memory (a user sizing a
machine asks which one, not only how much). Linux only: the kernel keeps the high-water mark (``VmHWM``)
and lets a process reset it (``clear_refs`` value 5); elsewhere both calls do nothing and report None.
No library offers this reset; psutil and resource give the whole-process peak only."""

from __future__ import annotations

from pathlib import Path

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


def reset_peak_rss() -> bool:
    """Start a new high-water mark at the current resident size; False where that is not possible."""
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def peak_rss_mb() -> float | None:
    """The high-water mark of this process's resident memory since start or the last reset, in MB."""
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None
