"""``run_info.json``: what a run did and what it cost, typed so writers and readers agree.

The run plan writes it after every step (so a crash leaves an accurate record of what finished);
reports read it back tolerantly: a missing or older file gives defaults, never an exception,
because a half-finished run is exactly when a report is wanted.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError


class RunRecord(BaseModel):
    model_config = ConfigDict(extra="allow")  # older or newer files keep what this version does not know

    name: str | None = None
    model: str | None = None
    language: str | None = None
    device: str | None = None
    finished: bool = False
    stages: list[str] = []  # evaluated stages in run order (base, phases, experts, variants, final)
    steps_done: list[str] = []  # run-plan steps finished, in order
    wall_time_s: float = 0.0  # summed over resumed attempts
    eval_time_s: float = 0.0
    train_time_s: float = 0.0
    train_tokens: int | None = None
    train_examples: int | None = None
    train_examples_dropped: int | None = None
    final_loss: float | None = None
    merge_time_s: float | None = None
    experts: dict[str, dict[str, Any]] = {}
    variants: dict[str, dict[str, Any]] = {}
    analysis: dict[str, Any] | None = None
    translations: dict[str, dict[str, Any]] = {}  # per translated data source: kept, rejected, reasons, requests

    def add_training(self, seconds: float, tokens: int, examples: int, dropped: int, loss: float | None) -> None:
        self.train_time_s += seconds
        self.train_tokens = (self.train_tokens or 0) + tokens
        self.train_examples = (self.train_examples or 0) + examples
        self.train_examples_dropped = (self.train_examples_dropped or 0) + dropped
        self.final_loss = loss

    def save(self, path: Path) -> None:
        """Written to a temporary file and renamed: a kill never leaves half a record."""
        staging = path.with_name(path.name + ".tmp")
        staging.write_text(self.model_dump_json(indent=2, exclude_none=True), encoding="utf-8")
        os.replace(staging, path)

    @classmethod
    def read(cls, path: Path) -> RunRecord:
        """The record at ``path``; defaults when it is absent, unreadable or not a record."""
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return cls.model_validate(raw) if isinstance(raw, dict) else cls()
        except (OSError, json.JSONDecodeError, ValidationError):
            return cls()
