"""Schema pieces every recipe section shares, so each section's spec can sit beside its code."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

LANGUAGE_CODE = r"^[a-z]{2,3}([-_][A-Za-z0-9]{2,8})*$"
NAME = r"^[A-Za-z0-9_.-]+$"
DataFormat = Literal["auto", "alpaca", "sharegpt", "messages", "squad", "parallel", "hf", "mt_bench"]
Dtype = Literal["auto", "float32", "bfloat16", "float16"]


class Strict(BaseModel):
    """A recipe section: unknown keys are errors (a typo must never be silently ignored)."""

    model_config = ConfigDict(extra="forbid")


class DataFile(Strict):
    """A named data file in one of the loaders' formats: what data sources and evaluation tasks share."""

    name: str
    path: str | list[str]
    format: DataFormat = "auto"
    language: str = Field(pattern=LANGUAGE_CODE)
    source_language: str | None = Field(default=None, pattern=LANGUAGE_CODE)
