"""Check a data file before a run spends time on it.

A user fixing a file wants the whole list of problems at once, not one per attempt, so this runs the
loaders' own per-record parsers in collect-all mode: what validates here is exactly what loads there.
"""

from __future__ import annotations

from lingotune.core.errors import DataError
from lingotune.data.loaders import Columns, DataPath, collect_examples


def validate_file(path: DataPath, format: str, language: str = "und", *, source_language: str | None = None,
                  split: str | None = None, columns: Columns = None) -> list[DataError]:
    """Every problem of the file, in file order; an empty list means it loads cleanly.

    ``language`` defaults to "und" (undetermined) because validity does not depend on it; ``columns``
    matters, since a file with localised column names only loads through its mapping.
    """
    _, errors = collect_examples(path, format, language, source_language=source_language, split=split,
                                 columns=columns)
    return errors


def format_errors(errors: list[DataError], limit: int = 50) -> str:
    """One line per problem, capped so a wholly wrong file does not flood the terminal."""
    shown = [str(error) for error in errors[:limit]]
    if len(errors) > limit:
        shown.append(f"... and {len(errors) - limit} more problems")
    return "\n".join(shown)
