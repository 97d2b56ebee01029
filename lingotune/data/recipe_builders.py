"""Apply a recipe data source's ``builder`` to the records its loader produced.

One dispatch for every builder so the pipeline only says "build this source". The X-CIT and PLUG
builders need the English side of a parallel instruction set (``english_path``): both sides go
through the same prompt builder first (extractive QA for SQuAD-format data), then are paired by id
or position (methods.md §1.3).
"""

from __future__ import annotations

from lingotune.config import DataSource
from lingotune.data.builders import build_extractive_qa, build_long_answers, build_translation
from lingotune.data.example import Example
from lingotune.data.loaders import load_examples
from lingotune.data.xcit import (
    align_parallel,
    build_monolingual_subset,
    build_plug,
    build_think_in_english_chat,
    subset_pairs,
)
from lingotune.errors import RecipeError

PARALLEL_BUILDERS = ("xcit_monolingual", "xcit_chat", "xcit_both", "plug")


def _prompted(source: DataSource, examples: list[Example], template: str | None) -> list[Example]:
    """SQuAD records become QA conversations; other formats are already conversations."""
    if examples and "context" in examples[0].meta:
        return build_extractive_qa(examples, template, source.max_context_chars)
    return examples


def _parallel(source: DataSource, target: list[Example], seed: int) -> list[Example]:
    if not source.english_path:
        raise RecipeError(f"data source {source.name!r}: builder {source.builder} needs english_path "
                          "(the English side of the parallel instruction data)")
    english = load_examples(source.english_path, source.format, source.source_language or "en",
                            name=f"{source.name}:en")
    pairs = align_parallel(_prompted(source, english, source.english_prompt_template),
                           _prompted(source, target, source.prompt_template), by=source.pair_by)
    if source.builder == "plug":
        return build_plug(pairs, **({"english_label": source.english_label} if source.english_label else {}),
                          target_label=source.target_label)
    chosen = subset_pairs(pairs, source.subset_fraction, seed)
    built: list[Example] = []
    if source.builder in ("xcit_monolingual", "xcit_both"):
        built += build_monolingual_subset(chosen, 1.0, seed)
    if source.builder in ("xcit_chat", "xcit_both"):
        options = {"restate_template": source.restate_template} if source.restate_template else {}
        built += build_think_in_english_chat(chosen, cue=source.cue, loss_turns=source.loss_turns, **options)
    return built


def apply_builder(source: DataSource, examples: list[Example], seed: int,
                  language_names: dict[str, str]) -> list[Example]:
    if source.builder == "extractive_qa":
        return build_extractive_qa(examples, source.prompt_template, source.max_context_chars)
    if source.builder == "long_answer":
        return build_long_answers(examples, source.prompt_template)
    if source.builder == "translation":
        if not source.source_language:
            raise RecipeError(f"data source {source.name!r}: builder translation needs source_language")
        return build_translation(examples, source.source_language, source.language, source.prompt_template,
                                 language_names)
    if source.builder in PARALLEL_BUILDERS:
        return _parallel(source, examples, seed)
    return examples
