"""The small part of a run every component may see, instead of the whole recipe."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from lingotune.core.layout import RunLayout


@dataclass(frozen=True)
class RunContext:
    layout: RunLayout
    seed: int = 0
    trust_remote_code: bool = False  # off unless the recipe asks: a model repository's own code runs only then
    language_names: dict[str, str] = field(default_factory=dict)
    dtype: str = "auto"  # the recipe's ``model.dtype``: used wherever a section's own dtype is "auto"
    name: str = "run"
    accelerate_config: str | None = None  # training steps run under ``accelerate launch`` with this config
    launcher: str = "inline"  # where training steps run: inline, process (a fresh one), accelerate

    def resolve_dtype(self, section_dtype: str) -> str:
        return self.dtype if section_dtype == "auto" else section_dtype


def is_main_process() -> bool:
    """False in the launched processes of rank > 0 (``accelerate launch``): they must not write the run folder."""
    return int(os.environ.get("RANK", "0")) == 0
