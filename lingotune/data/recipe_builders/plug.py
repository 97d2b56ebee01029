"""``builder: plug``: PLUG answers, English first under one label, then the target language (methods.md §1.3)."""

from __future__ import annotations

from typing import Literal

from lingotune.data.example import Example
from lingotune.data.recipe_builders.base import BuildContext, register
from lingotune.data.recipe_builders.parallel import ParallelSource
from lingotune.data.xcit import build_plug


@register
class PlugSource(ParallelSource):
    builder: Literal["plug"]
    english_label: str | None = None
    target_label: str | None = None

    def build(self, examples: list[Example], ctx: BuildContext) -> list[Example]:
        options = {"english_label": self.english_label} if self.english_label else {}
        return build_plug(self.pairs(examples), **options, target_label=self.target_label)
