"""The one way every lingotune command reports a user error: the message alone, exit status 2."""

from __future__ import annotations

import functools

import typer
from rich.markup import escape

from lingotune.core.errors import LingotuneError
from lingotune.core.progress import console, silence_library_bars


def user_errors(command):
    """Wrap a typer command: library progress bars off, ``LingotuneError`` printed without a traceback."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        silence_library_bars()
        try:
            return command(*args, **kwargs)
        except LingotuneError as error:
            console.print(f"[bold red]error:[/bold red] {escape(str(error))}", highlight=False)
            raise typer.Exit(2) from None

    return wrapper
