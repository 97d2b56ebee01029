"""What every data source of a recipe has, and the registry its builders join by their YAML name.

A builder turns the records a loader read into the conversations training sees (QA prompts,
translation demonstrations, X-CIT chats…). Each builder is one module with its own pydantic spec
(``builder: NAME`` picks it), so a missing field is a recipe error with its file line, found when the
recipe is loaded, not when training starts.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import ClassVar

from pydantic import Field, PrivateAttr, model_validator

from lingotune.core.errors import RecipeError
from lingotune.core.registry import Registry
from lingotune.core.schema import DataFile
from lingotune.data.codemix_balance import SwitchingSpec
from lingotune.data.example import Example
from lingotune.data.loaders import load_examples
from lingotune.data.translate.spec import TranslateSpec
from lingotune.language.echo_loop import ECHO_THRESHOLD, echo_share


@dataclass(frozen=True)
class BuildContext:
    """The little a builder may know of the run: its seed and the recipe's language names."""

    seed: int = 0
    language_names: dict[str, str] = field(default_factory=dict)


class SourceSpec(DataFile):
    """One data source; subclasses add their builder's settings."""

    builder_name: ClassVar[str] = ""
    answer_in_prompt: ClassVar[bool] = False  # answers are picked from choices the prompt lists (labels)
    weight: float = Field(default=1.0, ge=0)
    max_examples: int | None = Field(default=None, gt=0)
    # Leave out examples whose answer is mostly copied from their prompt ("fix the grammar: …", "repeat
    # after me"): a model trained on them learns to echo (issue 10). The pre-flight check counts them.
    drop_prompt_copies: bool = False
    # A system turn put first on every example of the source (an existing one is replaced). Tagging the
    # copying tasks (translation, extractive QA) with their own system prompt keeps their "reproduce the
    # input" behaviour apart from open chat under the model's default system prompt, as tagged
    # back-translation keeps synthetic data apart (Caswell et al. 2019). Evaluate with the same ``system``.
    system: str | None = Field(default=None, min_length=1)
    # Translate the file into ``language`` first (a translate step of the run plan: cached, filtered,
    # reported); ``path`` then holds the source-language records.
    translate: TranslateSpec | None = None
    # Draw ``max_examples`` balanced across code-switching levels (S-index or CMI), not at random
    switching: SwitchingSpec | None = None
    _translated: str | None = PrivateAttr(default=None)  # the translate step's output, once it ran

    @model_validator(mode="after")
    def _switching_needs_a_size(self) -> SourceSpec:
        if self.switching is not None and self.max_examples is None:
            raise ValueError("switching draws max_examples across switching levels; set max_examples (a draw of "
                             "every example is the file as it is)")
        return self

    def file_fields(self) -> list[str]:
        """Fields that name files, resolved against the recipe's folder when the recipe is loaded."""
        return ["path", *(f"translate.{f}" for f in (self.translate.file_fields() if self.translate else []))]

    def use_translation(self, path: str) -> None:
        self._translated = path

    def require_translation(self) -> None:
        if self.translate is not None and self._translated is None:
            raise RecipeError(f"data source {self.name!r} is translated by the run's translate step, which has "
                              "not run: use lingotune run, or lingotune data translate and point path at its output")

    def load(self) -> list[Example]:
        """The records (translated ones once the translate step ran). Before that (the pre-flight check,
        --dry-run) the source-language records stand in, so builders and the mix are still checked."""
        if self.translate is not None:
            if self._translated is not None:
                return load_examples(self._translated, "auto", self.language, name=self.name)
            return load_examples(self.path, self.format, self.translate.source_language, name=self.name,
                                 columns=self.columns)
        return load_examples(self.path, self.format, self.language, source_language=self.source_language,
                             name=self.name, columns=self.columns)

    def build(self, examples: list[Example], ctx: BuildContext) -> list[Example]:
        return examples

    def built(self, ctx: BuildContext) -> list[Example]:
        """Loaded, built by the builder, and without prompt copies when asked: what the mix draws from."""
        examples = self.build(self.load(), ctx)
        if self.system:
            examples = with_system(examples, self.system)
        return [e for e in examples if not copies_prompt(e)] if self.drop_prompt_copies else examples


def with_system(examples: list[Example], system: str) -> list[Example]:
    """Each example with ``system`` as its first turn, replacing any system turn it had."""
    return [replace(e, messages=[{"role": "system", "content": system},
                                 *(m for m in e.messages if m["role"] != "system")]) for e in examples]


def copies_prompt(example: Example) -> bool:
    """The answer is mostly copied from the last user turn (short spans included: an extractive answer is)."""
    return echo_share(example.user_text, example.response or "") >= ECHO_THRESHOLD


BUILDERS: Registry = Registry("builder", "builder", "builder_name")
register = BUILDERS.register
