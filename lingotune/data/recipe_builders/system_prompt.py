"""``builder: system_prompt``: the records as read, with a system message put first ("Answer in
Spanish."), the simplest way to tell a model which language to answer in (an existing system turn is
replaced, so a source never carries two)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lingotune.data.example import Example
from lingotune.data.recipe_builders.base import BuildContext, SourceSpec, register, with_system


@register
class SystemPromptSource(SourceSpec):
    builder: Literal["system_prompt"]
    system: str = Field(min_length=1)

    def build(self, examples: list[Example], ctx: BuildContext) -> list[Example]:
        return with_system(examples, self.system)
