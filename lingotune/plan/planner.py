"""``plan(recipe) → Plan``: the recipe's steps, in dependency order, each with what it reads and writes.

One plain list, not a task graph: the recipe's own order (phases, experts, variants, each checked at
load to name only what comes before it) already is a valid order. The shapes:

- single run:  [translate] → evaluate base → train → [merge] → evaluate final → report
- phases:      evaluate base → phase:1 → [evaluate 1] → … → phase:N → [merge] → evaluate final → report
- modular:     evaluate base → expert:E → [evaluate E] … → variant:V → [evaluate V] … → analyze → report
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lingotune.core.errors import RecipeError
from lingotune.core.layout import RunLayout, trained_model
from lingotune.merge.references import parse_reference
from lingotune.plan.recipe import ExpertSpec, Recipe
from lingotune.plan.steps import (
    AnalyzeStep,
    EvaluateStep,
    MergeStep,
    ReportStep,
    Step,
    TrainStep,
    TranslateStep,
    model_reads,
)
from lingotune.train.spec import TrainSpec


@dataclass
class Plan:
    recipe: Recipe
    layout: RunLayout
    steps: list[Step]


def phase_train_spec(recipe: Recipe, index: int) -> TrainSpec:
    """The phase's training settings: its own values over the recipe's ``train`` section; an
    ``lr_multiplier`` scales the previous phase's learning rate (methods.md §7: lower phase-2 LR)."""
    assert recipe.train is not None and recipe.phases
    learning_rate = recipe.train.learning_rate
    for phase in recipe.phases[: index + 1]:
        if phase.learning_rate is not None:
            learning_rate = phase.learning_rate
        elif phase.lr_multiplier is not None:
            learning_rate *= phase.lr_multiplier
    phase = recipe.phases[index]
    update: dict[str, Any] = {"learning_rate": learning_rate}
    if phase.epochs is not None:
        update["epochs"] = phase.epochs
    if phase.max_steps is not None:
        update["max_steps"] = phase.max_steps
    return recipe.train.model_copy(update=update)


def expert_train_spec(recipe: Recipe, expert: ExpertSpec, layout: RunLayout) -> TrainSpec:
    """The expert's settings over the recipe's ``train`` section; ``expert:NAME`` in ``freeze.reference``
    becomes that expert's trained model."""
    assert recipe.train is not None
    update: dict[str, Any] = {k: v for k, v in (("learning_rate", expert.learning_rate), ("epochs", expert.epochs),
                                                ("max_steps", expert.max_steps)) if v is not None}
    if expert.freeze is not None:
        freeze = expert.freeze.model_copy()
        ref = parse_reference(freeze.reference) if freeze.reference else None
        if ref is not None:
            freeze.reference = str(trained_model(layout.expert_dir(ref[1])))
        update["freeze"] = freeze
    return recipe.train.model_copy(update=update)


def _evaluate(recipe: Recipe, layout: RunLayout, stage: str, model_ref: str, use_cache: bool = False) -> list[Step]:
    if recipe.eval is None:
        return []
    return [EvaluateStep(f"eval:{stage}", layout.eval_dir(stage), [model_ref], stage=stage, model_ref=model_ref,
                         spec=recipe.eval, use_cache=use_cache)]


def _data_reads(data) -> list[str]:
    return [f"{s.name} ({s.builder})" for s in data.sources]


def _single(recipe: Recipe, layout: RunLayout) -> tuple[list[Step], str | None]:
    if recipe.train is not None and recipe.data is None:
        raise RecipeError(f"{recipe.where(('train',))}: the recipe trains but has no data section "
                          "(add data: with sources, or phases: / experts:)")
    if recipe.train is None or recipe.data is None:
        return [], None
    step = TrainStep("train", layout.root, ["base", *_data_reads(recipe.data)], produces="trained", from_ref="base",
                     data=recipe.data, spec=recipe.train, model_name=recipe.name)
    return [step], "trained"


def _phases(recipe: Recipe, layout: RunLayout) -> tuple[list[Step], str | None]:
    steps: list[Step] = []
    current = "base"
    phases = recipe.phases or []
    for index, phase in enumerate(phases):
        out = layout.phase_dir(index + 1, phase.name)
        following = phases[index + 1] if index + 1 < len(phases) else None
        carried = None if phase.fresh_optimizer else layout.phase_dir(index, phases[index - 1].name) / "optimizer.pt"
        ref = f"phase:{phase.name}"
        steps.append(TrainStep(ref, out, [current, *_data_reads(phase.data)], produces=ref, from_ref=current,
                               data=phase.data, spec=phase_train_spec(recipe, index), label=phase.name,
                               model_name=f"{recipe.name}-{phase.name}", self_paced=phase.self_paced,
                               optimizer_from=carried,
                               save_optimizer=following is not None and not following.fresh_optimizer))
        if phase.evaluate and following is not None:
            steps += _evaluate(recipe, layout, phase.name, ref)
        current = ref
    return steps, current if phases else None


def _top_merge(recipe: Recipe, layout: RunLayout) -> list[Step]:
    if recipe.merge is None:
        return []
    return [MergeStep("merge", layout.merged, model_reads(recipe.merge), produces="merged", spec=recipe.merge,
                      model_name=f"{recipe.name}-{recipe.merge.method}", record_dir=layout.merge_files)]


def _modular(recipe: Recipe, layout: RunLayout) -> list[Step]:
    steps: list[Step] = []
    for expert in recipe.experts or []:
        ref = f"expert:{expert.name}"
        reads = ["base", *_data_reads(expert.data)] + ([expert.freeze.reference] if expert.freeze and
                                                        expert.freeze.reference else [])
        steps.append(TrainStep(ref, layout.expert_dir(expert.name), reads, produces=ref, data=expert.data,
                               spec=expert_train_spec(recipe, expert, layout), label=expert.name,
                               model_name=f"{recipe.name}-{expert.name}",
                               expert_frozen=expert.freeze.describe() if expert.freeze else None))
        if expert.evaluate:
            steps += _evaluate(recipe, layout, expert.name, ref)
    for variant in recipe.variants or []:
        ref = f"variant:{variant.name}"
        steps.append(MergeStep(ref, layout.variant_dir(variant.name) / "model", model_reads(variant.merge),
                               produces=ref, spec=variant.merge, model_name=f"{recipe.name}-{variant.name}",
                               description=variant.description, record_dir=layout.variant_dir(variant.name)))
        if variant.evaluate:
            steps += _evaluate(recipe, layout, variant.name, ref)
    unfrozen = [e.name for e in recipe.experts or [] if e.freeze is None]
    if unfrozen:
        steps.append(AnalyzeStep("analyze", layout.analysis, [f"expert:{n}" for n in unfrozen], experts=unfrozen))
    return steps


def _translations(recipe: Recipe, layout: RunLayout) -> list[Step]:
    """One translate step per source with ``translate:``, first: a bad translator fails before any hour of
    evaluation or training, and its output is what the training steps read."""
    steps: list[Step] = []
    for label, _, data in recipe.data_sections():
        owner = label.partition(" ")[2]  # "expert code_es" → "code_es"; the top-level "data" has none
        for source in data.sources:
            if source.translate is not None:
                name = f"{owner}-{source.name}" if owner else source.name
                steps.append(TranslateStep(f"translate:{name}", layout.root / "translate" / name,
                                           [source.path], source=source))
    return steps


def plan(recipe: Recipe, run_dir: Path | None = None) -> Plan:
    layout = RunLayout(run_dir or recipe.run_dir())
    steps = _translations(recipe, layout)
    steps += _evaluate(recipe, layout, "base", "base", use_cache=bool(recipe.eval and recipe.eval.cache_base))
    if recipe.experts or recipe.variants:
        steps += _modular(recipe, layout)
    else:
        trained, final = _phases(recipe, layout) if recipe.phases else _single(recipe, layout)
        merge = _top_merge(recipe, layout)
        steps += trained + merge
        final = "merged" if merge else final
        if final is not None:
            steps += _evaluate(recipe, layout, "final", final)
    if recipe.eval is not None:
        steps.append(ReportStep("report", layout.root, ["eval/"]))
    return Plan(recipe, layout, steps)
