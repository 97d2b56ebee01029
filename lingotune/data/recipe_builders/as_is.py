"""``builder: as_is`` (the default): the records as their loader read them (chat, Alpaca, ShareGPT)."""

from __future__ import annotations

from typing import Literal

from lingotune.data.recipe_builders.base import SourceSpec, register


@register
class AsIsSource(SourceSpec):
    builder: Literal["as_is"] = "as_is"
