"""``builder: long_answer``: SQuAD-format records → a question answered by its whole paragraph."""

from __future__ import annotations

from typing import Literal

from lingotune.data.builders import build_long_answers
from lingotune.data.example import Example
from lingotune.data.recipe_builders.base import BuildContext, SourceSpec, register


@register
class LongAnswerSource(SourceSpec):
    builder: Literal["long_answer"]
    prompt_template: str | None = None

    def build(self, examples: list[Example], ctx: BuildContext) -> list[Example]:
        return build_long_answers(examples, self.prompt_template)
