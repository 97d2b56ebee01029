"""What the X-CIT and PLUG builders share (methods.md §1.3): the English side of a parallel
instruction set (``english_path``), put through the same prompt builder as the target side
(extractive QA for SQuAD-format data), then paired by id or position."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lingotune.data.builders import build_extractive_qa
from lingotune.data.example import Example
from lingotune.data.loaders import load_examples
from lingotune.data.recipe_builders.base import SourceSpec
from lingotune.data.xcit import ParallelInstruction, align_parallel


class ParallelSource(SourceSpec):
    english_path: str  # the English side of the parallel instruction data
    english_prompt_template: str | None = None
    prompt_template: str | None = None
    pair_by: Literal["id", "index"] = "id"
    max_context_chars: int | None = Field(default=None, gt=0)

    def file_fields(self) -> list[str]:
        return ["path", "english_path"]

    def _prompted(self, examples: list[Example], template: str | None) -> list[Example]:
        """SQuAD records become QA conversations; other formats are already conversations."""
        if examples and "context" in examples[0].meta:
            return build_extractive_qa(examples, template, self.max_context_chars)
        return examples

    def pairs(self, target: list[Example]) -> list[ParallelInstruction]:
        english = load_examples(self.english_path, self.format, self.source_language or "en",
                                name=f"{self.name}:en")
        return align_parallel(self._prompted(english, self.english_prompt_template),
                              self._prompted(target, self.prompt_template), by=self.pair_by)


class XcitSource(ParallelSource):
    """The X-CIT builders' common settings: the share of pairs used, and the think-in-English chat's."""

    subset_fraction: float = Field(default=0.1, gt=0, le=1)
    cue: str | None = None
    restate_template: str | None = None
    loss_turns: Literal["all", "last"] | list[int] = "all"

    def chat_options(self) -> dict[str, object]:
        options: dict[str, object] = {"cue": self.cue, "loss_turns": self.loss_turns}
        if self.restate_template:
            options["restate_template"] = self.restate_template
        return options
