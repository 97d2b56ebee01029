"""Progress display shared by every long step, so all of them look and behave the same."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

console = Console(stderr=True)


def silence_library_bars() -> None:
    """transformers/datasets print their own tqdm bars for every load and save; lingotune shows one
    rich bar per step instead, so theirs are turned off (``LINGOTUNE_VERBOSE=1`` keeps them)."""
    if os.environ.get("LINGOTUNE_VERBOSE") == "1":
        return
    import warnings

    # transformers 5 deprecation notices about its own internals, not actionable by users
    warnings.filterwarnings("ignore", message=r".*is_gradient_checkpointing.*", category=FutureWarning)
    try:
        import datasets
        import transformers

        transformers.utils.logging.disable_progress_bar()
        transformers.utils.logging.set_verbosity_error()
        datasets.disable_progress_bars()
    except ImportError:
        pass


def _quiet() -> bool:
    return os.environ.get("LINGOTUNE_QUIET") == "1"


class _LoggedProgress(Progress):
    """Rich draws no live bar when stderr is not a terminal (``make quickstart > log``), so a log showed
    nothing for minutes; this prints one plain line per task every 10 % or 30 s, and at the end.
    (Written here: rich has no line-per-interval mode for non-terminals.)"""

    EVERY_S, EVERY_FRACTION = 30.0, 0.1

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._last: dict[int, tuple[float, float]] = {}  # task id → (monotonic time, fraction) of its last line

    def update(self, task_id, **kwargs) -> None:  # type: ignore[override]
        super().update(task_id, **kwargs)
        self._log(task_id)

    def advance(self, task_id, advance: float = 1) -> None:
        super().advance(task_id, advance)
        self._log(task_id)

    def stop(self) -> None:
        for task in self.tasks:
            self._log(task.id, final=True)
        super().stop()

    def _log(self, task_id, final: bool = False) -> None:
        task = next((t for t in self.tasks if t.id == task_id), None)
        if task is None or not task.total or self.disable:
            return
        fraction = min(task.completed / task.total, 1.0)
        now = time.monotonic()
        last_time, last_fraction = self._last.setdefault(task_id, (now, 0.0))
        due = (fraction - last_fraction >= self.EVERY_FRACTION - 1e-9 or now - last_time >= self.EVERY_S
               or (fraction >= 1.0 > last_fraction) or (final and fraction > last_fraction))
        if not due:
            return
        self._last[task_id] = (now, fraction)
        left = "" if task.time_remaining is None or fraction >= 1.0 else f", ~{task.time_remaining:.0f} s left"
        self.console.print(f"{task.description}: {task.completed:.0f}/{task.total:.0f} ({100 * fraction:.0f} %), "
                           f"{task.elapsed or 0:.0f} s{left}", markup=False, highlight=False)


def progress_bar() -> Progress:
    """A bar with count, elapsed and remaining time; plain lines when not on a terminal."""
    kind = Progress if console.is_terminal else _LoggedProgress
    return kind(
        SpinnerColumn(),
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=_quiet(),
        transient=not sys.stderr.isatty(),
    )


@contextmanager
def status(message: str) -> Iterator[None]:
    """A spinner for steps whose length is unknown (downloads, conversions)."""
    if _quiet():
        yield
        return
    with console.status(message):
        yield
    console.print(f"[green]✓[/green] {message}")
