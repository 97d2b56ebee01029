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

from lingotune.core.schema import LANGUAGE_CODE, DataFormat, Strict
from lingotune.data.example import Example
from lingotune.data.loaders import load_examples


@dataclass(frozen=True)
class BuildContext:
    """The little a builder may know of the run: its seed and the recipe's language names."""

    seed: int = 0
    language_names: dict[str, str] = field(default_factory=dict)


class SourceSpec(Strict):
    """One data source; subclasses add their builder's settings."""

    builder_name: ClassVar[str] = ""
    name: str
    path: str | list[str]
    format: DataFormat = "auto"
    language: str = Field(pattern=LANGUAGE_CODE)
    source_language: str | None = Field(default=None, pattern=LANGUAGE_CODE)
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


BUILDERS: dict[str, type[SourceSpec]] = {}


def register(cls: type[SourceSpec]) -> type[SourceSpec]:
    """Class decorator: the spec's ``builder`` literal is its YAML name."""
    name = cls.model_fields["builder"].annotation.__args__[0]  # type: ignore[union-attr]
    if name in BUILDERS:
        raise ValueError(f"builder {name!r} is registered twice")
    cls.builder_name = name
    BUILDERS[name] = cls
    return cls
