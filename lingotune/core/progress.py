"""Progress display shared by every long step, so all of them look and behave the same."""

from __future__ import annotations

import os
import sys
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


def progress_bar() -> Progress:
    """A bar with count, elapsed and remaining time; plain lines when not on a terminal."""
    return Progress(
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
