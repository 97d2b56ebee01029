"""``builder: classification``: labelled texts (SentiMix sentiment, any ``label``) → "which label?"
demonstrations whose answer is the label alone, so that an evaluation can parse it strictly.

The label comes from the record's ``meta["label"]`` (CoNLL ``meta`` lines) or, for chat/Alpaca
records, its answer; the text is the user turn. ``labels`` fixes the label set and its order in the
prompt; by default it is every label the file has, sorted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import ClassVar, Literal

from pydantic import Field

from lingotune.core.errors import RecipeError
from lingotune.data.builders import fill
from lingotune.data.example import Example
from lingotune.data.recipe_builders.base import BuildContext, SourceSpec, register

CLASSIFICATION_TEMPLATE = "Classify this text as {labels}. Answer with one word.\n\nText: {text}"


def _label_of(example: Example) -> str | None:
    label = example.meta.get("label")
    if label is None and any(m["role"] == "assistant" for m in example.messages):
        label = example.response
    return str(label).strip() if label is not None and str(label).strip() else None


def label_list(labels: Sequence[str]) -> str:
    """``positive, negative or neutral``: how the prompt names the choices."""
    return labels[0] if len(labels) == 1 else f"{', '.join(labels[:-1])} or {labels[-1]}"


def build_classification(examples: Sequence[Example], labels: Sequence[str] | None = None,
                         template: str | None = None) -> tuple[list[Example], list[str]]:
    """Prompts with the label as answer, and the label set used."""
    found = [_label_of(e) for e in examples]
    missing = [e for e, label in zip(examples, found, strict=True) if label is None]
    if missing:
        where = missing[0].meta.get("line", missing[0].meta.get("index"))
        raise RecipeError(f"{missing[0].source}: builder classification needs a label on every record; "
                          f"{len(missing)} have none (first at {where}): CoNLL meta lines 'meta<TAB>id<TAB>label' "
                          "or an answer holding the label")
    label_set = list(labels) if labels else sorted(set(found))  # type: ignore[arg-type]
    unknown = sorted(set(found) - set(label_set))  # type: ignore[arg-type]
    if unknown:
        raise RecipeError(f"{examples[0].source}: labels {unknown} are not among labels {label_set}")
    template = template or CLASSIFICATION_TEMPLATE
    built = []
    for example, label in zip(examples, found, strict=True):
        prompt = fill(template, example.source, text=example.user_text, labels=label_list(label_set))
        messages = [{"role": "user", "content": prompt}, {"role": "assistant", "content": str(label)}]
        built.append(replace(example, messages=messages, meta={**example.meta, "label": label}))
    return built, label_set


@register
class ClassificationSource(SourceSpec):
    builder: Literal["classification"]
    answer_in_prompt: ClassVar[bool] = True
    labels: list[str] | None = Field(default=None, min_length=2)
    prompt_template: str | None = None

    def build(self, examples: list[Example], ctx: BuildContext) -> list[Example]:
        return build_classification(examples, self.labels, self.prompt_template)[0]
