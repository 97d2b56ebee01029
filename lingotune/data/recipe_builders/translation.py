"""``builder: translation``: parallel pairs → translation-following demonstrations (methods.md §2.3)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lingotune.core.schema import LANGUAGE_CODE
from lingotune.data.builders import build_translation
from lingotune.data.example import Example
from lingotune.data.recipe_builders.base import BuildContext, SourceSpec, register


@register
class TranslationSource(SourceSpec):
    builder: Literal["translation"]
    source_language: str = Field(pattern=LANGUAGE_CODE)  # required: the prompt names both languages
    prompt_template: str | None = None

    def build(self, examples: list[Example], ctx: BuildContext) -> list[Example]:
        return build_translation(examples, self.source_language, self.language, self.prompt_template,
                                 ctx.language_names)
