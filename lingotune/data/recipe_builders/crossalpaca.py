"""``builder: crossalpaca``: target-language instructions plus translation-following demonstrations
(CrossAlpaca, Ranaldi et al. 2024; methods.md §2.2–2.3).

The paper does not publish its demonstration format; this is the reconstruction of methods.md §2.3:
a pair (English text, its target-language version) becomes "Translate the following text from
English into Spanish.\\n\\n<English>" → "<Spanish>" (``en2x``), the reverse (``x2en``), or either at
random per pair (``both``); the text is the whole example (prompt and answer joined) or each field
on its own (``tf_unit: field``). Pairs come from the instruction data itself (``alpaca_pairs``: the
English kept by the translate step, or ``english_path`` paired by position/id) or from a parallel
corpus (``external_parallel``). ``tf_ratio`` demonstrations are added per instruction example.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import Literal

from pydantic import Field, model_validator

from lingotune.core.errors import RecipeError
from lingotune.data.builders import TRANSLATION_TEMPLATE, fill
from lingotune.data.example import Example
from lingotune.data.loaders import load_examples
from lingotune.data.readers import json_records
from lingotune.data.recipe_builders.base import BuildContext, SourceSpec, register
from lingotune.language.codes import language_name

Pair = tuple[list[str], list[str]]  # the English texts and the target texts, unit by unit


def _texts(example: Example) -> list[str]:
    return [m["content"] for m in example.messages if m["role"] != "system" and m["content"].strip()]


def _english_texts(source: dict[str, str]) -> list[str]:
    """The translate step's kept English, turn by turn as the loader builds chats (Alpaca's instruction
    and input are one user turn)."""
    if "instruction" in source:
        user = source["instruction"] + (f"\n\n{source['input']}" if source.get("input", "").strip() else "")
        return [user, *([source["output"]] if source.get("output", "").strip() else [])]
    return [text for key, text in source.items() if key != "system" and text.strip()]


@register
class CrossAlpacaSource(SourceSpec):
    builder: Literal["crossalpaca"]
    tf_source: Literal["alpaca_pairs", "external_parallel"] = "alpaca_pairs"
    tf_direction: Literal["en2x", "x2en", "both"] = "en2x"
    tf_unit: Literal["example", "field"] = "example"
    tf_ratio: float = Field(default=0.5, ge=0)  # demonstrations per instruction example
    english_path: str | None = None  # alpaca_pairs without a translate step: the English records, same order
    english_language: str = "en"
    parallel_path: str | None = None  # external_parallel: a parallel file, English → target
    tf_template: str | None = None  # {source} {source_name} {target_name}

    @model_validator(mode="after")
    def _parallel_named(self) -> CrossAlpacaSource:
        if self.tf_source == "external_parallel" and not self.parallel_path:
            raise ValueError("tf_source: external_parallel needs parallel_path (an English → target parallel file)")
        return self

    def file_fields(self) -> list[str]:
        return [*super().file_fields(), *(f for f in ("english_path", "parallel_path") if getattr(self, f))]

    # ------------------------------------------------------------------ pairs
    def _instruction_pairs(self, examples: list[Example]) -> list[Pair]:
        if self.english_path:
            english = load_examples(self.english_path, self.format, self.english_language, name=f"{self.name}:en")
            if len(english) != len(examples):
                raise RecipeError(f"{self.name}: english_path has {len(english)} records, path has {len(examples)}; "
                                  "they must be the same records in the same order")
            return [(_texts(e), _texts(x)) for e, x in zip(english, examples, strict=True)]
        if self._translated is None:  # pre-flight check: no translation yet, the records pair with themselves
            return [(_texts(x), _texts(x)) for x in examples]
        sources = [r.value.get("translation", {}).get("source", {}) for r in json_records(self._translated)]
        pairs = []
        for example in examples:
            source = sources[example.meta["index"]]
            english = _english_texts(source)
            if len(english) == len(_texts(example)):
                pairs.append((english, _texts(example)))
        return pairs

    def _parallel_pairs(self) -> list[Pair]:
        assert self.parallel_path
        rows = load_examples(self.parallel_path, "parallel", self.language, source_language=self.english_language,
                             name=f"{self.name}:parallel")
        return [([r.meta["src"]], [r.meta["tgt"]]) for r in rows]

    def demonstrations(self, examples: list[Example], ctx: BuildContext) -> list[Example]:
        pairs = self._instruction_pairs(examples) if self.tf_source == "alpaca_pairs" else self._parallel_pairs()
        units: list[tuple[str, str]] = []
        for english, target in pairs:
            if self.tf_unit == "example" or len(english) != len(target):
                units.append(("\n\n".join(english), "\n\n".join(target)))
            else:
                units += list(zip(english, target, strict=True))
        rng = random.Random(f"{ctx.seed}:{self.name}:tf")
        names = {code: language_name(code, ctx.language_names.get(code))
                 for code in (self.english_language, self.language)}
        template = self.tf_template or TRANSLATION_TEMPLATE
        demos = []
        for index, (english, target) in enumerate(units):
            direction = self.tf_direction if self.tf_direction != "both" else rng.choice(["en2x", "x2en"])
            src, tgt = (self.english_language, self.language) if direction == "en2x" else (self.language,
                                                                                            self.english_language)
            source_text, target_text = (english, target) if direction == "en2x" else (target, english)
            prompt = fill(template, self.name, source=source_text, source_name=names[src], target_name=names[tgt])
            demos.append(Example([{"role": "user", "content": prompt}, {"role": "assistant", "content": target_text}],
                                 tgt, self.name, {"index": index, "kind": "translation_following",
                                                  "direction": direction}))
        wanted = round(self.tf_ratio * len(examples))
        return rng.sample(demos, wanted) if wanted < len(demos) else demos

    def build(self, examples: list[Example], ctx: BuildContext) -> list[Example]:
        instructions = [replace(e, meta={**e.meta, "kind": "instruction"}) for e in examples]
        return instructions + self.demonstrations(examples, ctx)
