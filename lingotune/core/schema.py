"""Schema pieces every recipe section shares, so each section's spec can sit beside its code."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

LANGUAGE_CODE = r"^[a-z]{2,3}([-_][A-Za-z0-9]{2,8})*$"
NAME = r"^[A-Za-z0-9_.-]+$"
DataFormat = Literal["auto", "alpaca", "sharegpt", "messages", "squad", "parallel", "hf", "mt_bench", "csv", "conll"]
Dtype = Literal["auto", "float32", "bfloat16", "float16"]

# The record keys the loaders' parsers read: the left-hand side of a ``columns`` mapping. Kept here,
# not in the loaders, so a recipe with a misspelt one fails when it is loaded, with its line.
COLUMN_NAMES = (
    "id", "language", "lang", "system",
    "instruction", "input", "output",
    "messages", "conversations",
    "question_id", "category", "turns", "reference",
    "title", "context", "question", "answers",
)


class Strict(BaseModel):
    """A recipe section: unknown keys are errors (a typo must never be silently ignored)."""

    model_config = ConfigDict(extra="forbid")


def check_columns(columns: dict[str, str] | None) -> dict[str, str] | None:
    """A mapping key the parsers never read would be silently useless, so it is an error."""
    if columns is None:
        return None
    unknown = sorted(set(columns) - set(COLUMN_NAMES))
    if unknown:
        raise ValueError(f"unknown column name(s) {unknown}: the keys of columns are the loaders' names "
                         f"({', '.join(COLUMN_NAMES)}), the values the file's own")
    blank = sorted(key for key, value in columns.items() if not value.strip())
    if blank:
        raise ValueError(f"columns {blank} map to an empty name")
    return columns


class DataFile(Strict):
    """A named data file in one of the loaders' formats: what data sources and evaluation tasks share."""

    name: str
    path: str | list[str]
    format: DataFormat = "auto"
    language: str = Field(pattern=LANGUAGE_CODE)
    source_language: str | None = Field(default=None, pattern=LANGUAGE_CODE)
    # Canonical name → the file's own, for files whose column (or JSON key) names are localised:
    # CrossAlpaca's Italian XQuAD has ``contesto, domanda, risposte`` for context, question, answers.
    columns: dict[str, str] | None = None

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return check_columns(value)
