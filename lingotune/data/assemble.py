"""A data section → the training examples: load every source, apply its builder, cap it, then mix
by weight (or concatenate)."""

from __future__ import annotations

from lingotune.core.progress import console
from lingotune.data.codemix_balance import sample_examples_by_level
from lingotune.data.example import Example
from lingotune.data.mix import mix, sample
from lingotune.data.recipe_builders import BuildContext
from lingotune.data.spec import DataSpec


def build_source_examples(data: DataSpec, ctx: BuildContext,
                          notes: list[str] | None = None) -> dict[str, list[Example]]:
    """Each source's built (and capped) examples, by source name; ``notes`` collects what a user should
    find in the run folder (the switching levels before and after a balanced draw)."""
    per_source: dict[str, list[Example]] = {}
    for source in data.sources:
        examples = source.built(ctx)
        if source.switching is not None:
            examples, drawn = sample_examples_by_level(examples, source.max_examples or len(examples),
                                                       source.switching, ctx.seed)
            note = f"{source.name}: drawn across switching levels ({source.switching.score})\n\n{drawn.table()}\n"
            console.print(note)
            if notes is not None:
                notes.append(note)
        elif source.max_examples and source.max_examples < len(examples):
            examples = sample(examples, source.max_examples, ctx.seed)
        per_source[source.name] = examples
    return per_source


def mix_sources(data: DataSpec, per_source: dict[str, list[Example]], seed: int) -> list[Example]:
    if data.total_examples:
        return mix(per_source, {s.name: s.weight for s in data.sources}, data.total_examples, seed)
    return [e for examples in per_source.values() for e in examples]


def build_training_examples(data: DataSpec, ctx: BuildContext, notes: list[str] | None = None) -> list[Example]:
    return mix_sources(data, build_source_examples(data, ctx, notes), ctx.seed)
