"""``builder: xcit_both``: X-CIT's monolingual subset and its think-in-English chats, from the same pairs."""

from __future__ import annotations

from typing import Literal

from lingotune.data.example import Example
from lingotune.data.recipe_builders.base import BuildContext, register
from lingotune.data.recipe_builders.parallel import XcitSource
from lingotune.data.xcit import build_monolingual_subset, build_think_in_english_chat, subset_pairs


@register
class XcitBothSource(XcitSource):
    builder: Literal["xcit_both"]

    def build(self, examples: list[Example], ctx: BuildContext) -> list[Example]:
        chosen = subset_pairs(self.pairs(examples), self.subset_fraction, ctx.seed)
        return [*build_monolingual_subset(chosen, 1.0, ctx.seed),
                *build_think_in_english_chat(chosen, **self.chat_options())]  # type: ignore[arg-type]
