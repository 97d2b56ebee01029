"""What every data source of a recipe has, and the registry its builders join by their YAML name.

A builder turns the records a loader read into the conversations training sees (QA prompts,
translation demonstrations, X-CIT chats…). Each builder is one module with its own pydantic spec
(``builder: NAME`` picks it), so a missing field is a recipe error with its file line, found when the
recipe is loaded, not when training starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

from pydantic import Field

from lingotune.core.registry import Registry
from lingotune.core.schema import DataFile
from lingotune.data.example import Example
from lingotune.data.loaders import load_examples


@dataclass(frozen=True)
class BuildContext:
    """The little a builder may know of the run: its seed and the recipe's language names."""

    seed: int = 0
    language_names: dict[str, str] = field(default_factory=dict)


class SourceSpec(DataFile):
    """One data source; subclasses add their builder's settings."""

    builder_name: ClassVar[str] = ""
    weight: float = Field(default=1.0, ge=0)
    max_examples: int | None = Field(default=None, gt=0)

    def file_fields(self) -> list[str]:
        """Fields that name files, resolved against the recipe's folder when the recipe is loaded."""
        return ["path"]

    def load(self) -> list[Example]:
        return load_examples(self.path, self.format, self.language, source_language=self.source_language,
                             name=self.name)

    def build(self, examples: list[Example], ctx: BuildContext) -> list[Example]:
        return examples


BUILDERS: Registry = Registry("builder", "builder", "builder_name")
register = BUILDERS.register
