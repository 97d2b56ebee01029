"""What every evaluation task of a recipe has, and the registry task kinds join by their YAML name.

A task kind knows how to turn its data into prompts with references (``build``) and how to score
the answers (``score``); generation, X-CIT's inference protocols, caching and the stage summary are
the suite's. Each kind is one module with its own pydantic spec (``kind: NAME`` picks it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal

from pydantic import Field

from lingotune.core.registry import Registry
from lingotune.core.schema import DataFile
from lingotune.data.example import Example
from lingotune.data.loaders import load_examples
from lingotune.data.mix import sample
from lingotune.data.recipe_builders.base import with_system
from lingotune.models.generate import Sampling

EVAL_SAMPLE_SEED = 0  # evaluation items never depend on the training seed


@dataclass
class EvalItem:
    id: str
    conversation: list[dict[str, str]]
    reference: str | list[str]
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class TaskScores:
    """Per-item scores (one dict per item, same order) and the task's metrics with their CIs."""

    per_item: list[dict[str, Any]]
    metrics: dict[str, dict[str, float]]
    extra: dict[str, Any] = field(default_factory=dict)  # added to the task's summary entry


def metric(point_low_high: tuple[float, float, float]) -> dict[str, float]:
    value, low, high = point_low_high
    return {"value": value, "low": low, "high": high}


class TaskSpec(DataFile):
    """One evaluation task; subclasses add their kind's settings and scoring."""

    kind_name: ClassVar[str] = ""
    prompt_template: str | None = None
    max_items: int | None = Field(default=None, gt=0)
    max_new_tokens: int = Field(default=32, gt=0)
    retention: bool = False
    protocol: Literal["direct", "two_turn", "plug"] = "direct"  # X-CIT inference protocols (methods.md §1.3)
    cue: str | None = None
    target_label: str | None = None
    system: str | None = Field(default=None, min_length=1)  # a system turn first, as the task's training data had

    def file_fields(self) -> list[str]:
        return ["path"]

    def load_items(self, language_names: dict[str, str] | None = None) -> list[EvalItem]:
        examples = load_examples(self.path, self.format, self.language, source_language=self.source_language,
                                 columns=self.columns)
        if self.max_items and self.max_items < len(examples):
            examples = sample(examples, self.max_items, EVAL_SAMPLE_SEED)
        built, references = self.build(examples, language_names or {})
        if self.system:
            built = with_system(built, self.system)
        return [EvalItem(str(e.meta.get("id", e.meta.get("index", i))), e.prompt_messages, ref, e.meta)
                for i, (e, ref) in enumerate(zip(built, references, strict=True))]

    def build(self, examples: list[Example], language_names: dict[str, str]) -> tuple[list[Example], list[Any]]:
        """Prompts and references; by default the records' own conversations and last answers."""
        return examples, [e.response or "" for e in examples]

    def cache_identity(self) -> dict[str, Any]:
        """What besides the task's settings decides its scores (a tagger's weights…): part of the key of
        cached base evaluations, so a changed scorer is never answered from an old cache entry."""
        return {}

    def sampling(self, items: list[EvalItem]) -> Sampling | None:
        """How the items' answers are generated: greedy (None) unless a kind samples (pass@k)."""
        return None

    def score(self, items: list[EvalItem], outputs: list[str], detections: list[dict[str, Any]],
              resamples: int) -> TaskScores:
        raise NotImplementedError


def templated(examples: list[Example], template: str | None) -> tuple[list[Example], list[Any]]:
    """Each example's last user turn put into ``template`` (``{text}``), its answer the reference: for
    kinds whose data are (input, expected output) pairs such as parallel TSV files."""
    from lingotune.data.builders import fill

    built = []
    for example in examples:
        prompt = fill(template, example.source, text=example.user_text) if template else example.user_text
        built.append(Example([{"role": "user", "content": prompt},
                              {"role": "assistant", "content": example.response or ""}],
                             example.language, example.source, example.meta))
    return built, [e.response or "" for e in built]


TASK_KINDS: Registry = Registry("task kind", "kind", "kind_name")
register = TASK_KINDS.register
