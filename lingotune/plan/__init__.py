"""The run plan: a recipe → a list of steps (``planner``) → checked without a model (``check``) →
run by one loop that resumes and records (``runner``). The layer just below the CLI."""

from __future__ import annotations

from pathlib import Path

from lingotune.core.progress import console
from lingotune.plan.load import load_recipe
from lingotune.plan.planner import Plan, plan
from lingotune.plan.recipe import Recipe

__all__ = ["Plan", "Recipe", "check_recipe", "load_recipe", "plan", "run_recipe"]


def check_recipe(recipe: Recipe, *, tokenizer: bool = True, show: bool = False, the_plan: Plan | None = None) -> Plan:
    """Plan the recipe (unless ``the_plan`` is its plan) and check everything checkable without a model
    (lengths with the tokenizer)."""
    from lingotune.plan.check import check_data, count_too_long
    from lingotune.plan.describe import checks_table, plan_table, tasks_table

    the_plan = the_plan or plan(recipe)
    result = check_data(recipe)
    if tokenizer and result.sources:
        from lingotune.models.loading import load_tokenizer
        from lingotune.models.sources import resolve_model

        base = resolve_model(recipe.model.source)
        count_too_long(result, load_tokenizer(base, trust_remote_code=recipe.model.trust_remote_code,
                                              padding_side="right"))
    if show:
        console.print(plan_table(the_plan))
        if result.sources:
            console.print(checks_table(result))
        if result.tasks:
            console.print(tasks_table(result))
    else:
        for check in result.sources:
            if check.too_long:
                console.print(f"[yellow]{check.section} / {check.name}: {check.too_long} of {check.examples} "
                              f"examples exceed max_length={check.max_length} and will be left out[/yellow]")
    return the_plan


def run_recipe(recipe: Recipe, accelerate_config: Path | None = None, launcher: str | None = None) -> Path:
    """``launcher``: where training steps run: ``process`` (a fresh one each, the default unless
    ``LINGOTUNE_LAUNCHER`` says otherwise), ``inline``, or accelerate when ``accelerate_config`` is given."""
    from contextlib import nullcontext

    from lingotune.plan.runner import execute, start_warm_training

    the_plan = plan(recipe)
    # the training process imports its stack while this one checks the data and evaluates the base
    warm = start_warm_training(the_plan, accelerate_config, launcher)
    with warm or nullcontext():
        return execute(check_recipe(recipe, the_plan=the_plan), accelerate_config, launcher, warm)
