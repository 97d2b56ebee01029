"""``builder: extractive_qa``: SQuAD-format records → a question about a context, answered by the span."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lingotune.data.builders import build_extractive_qa
from lingotune.data.example import Example
from lingotune.data.recipe_builders.base import BuildContext, SourceSpec, register


@register
class ExtractiveQASource(SourceSpec):
    builder: Literal["extractive_qa"]
    prompt_template: str | None = None
    max_context_chars: int | None = Field(default=None, gt=0)

    def build(self, examples: list[Example], ctx: BuildContext) -> list[Example]:
        return build_extractive_qa(examples, self.prompt_template, self.max_context_chars)
