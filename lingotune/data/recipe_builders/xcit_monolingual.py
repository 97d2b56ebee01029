"""``builder: xcit_monolingual``: X-CIT's target-language subset of the parallel data (methods.md §1.3)."""

from __future__ import annotations

from typing import Literal

from lingotune.data.example import Example
from lingotune.data.recipe_builders.base import BuildContext, register
from lingotune.data.recipe_builders.parallel import XcitSource
from lingotune.data.xcit import build_monolingual_subset, subset_pairs


@register
class XcitMonolingualSource(XcitSource):
    builder: Literal["xcit_monolingual"]

    def build(self, examples: list[Example], ctx: BuildContext) -> list[Example]:
        chosen = subset_pairs(self.pairs(examples), self.subset_fraction, ctx.seed)
        return build_monolingual_subset(chosen, 1.0, ctx.seed)
