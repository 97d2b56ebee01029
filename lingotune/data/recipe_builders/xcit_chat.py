"""``builder: xcit_chat``: X-CIT's chats that answer in English first, then in the target language."""

from __future__ import annotations

from typing import Literal

from lingotune.data.example import Example
from lingotune.data.recipe_builders.base import BuildContext, register
from lingotune.data.recipe_builders.parallel import XcitSource
from lingotune.data.xcit import build_think_in_english_chat, subset_pairs


@register
class XcitChatSource(XcitSource):
    builder: Literal["xcit_chat"]

    def build(self, examples: list[Example], ctx: BuildContext) -> list[Example]:
        chosen = subset_pairs(self.pairs(examples), self.subset_fraction, ctx.seed)
        return build_think_in_english_chat(chosen, **self.chat_options())  # type: ignore[arg-type]
