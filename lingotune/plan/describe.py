"""The plan as a user reads it: steps, what each reads and writes, which are done; and the checks."""

from __future__ import annotations

from pathlib import Path

from rich.table import Table

from lingotune.core.layout import checkpoints
from lingotune.plan.check import CheckResult
from lingotune.plan.planner import Plan
from lingotune.plan.steps import Step, TrainStep


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve())) or "."
    except ValueError:
        return str(path)


def step_status(plan: Plan, step: Step) -> str:
    if plan.layout.step_marker(step.name).is_file():
        return "done" + (" (runs again)" if step.always else "")
    if isinstance(step, TrainStep) and any(checkpoints(step.writes).glob("checkpoint-*/trainer_state.json")):
        return "interrupted (resumes from checkpoint)"
    return "to do"


def plan_table(plan: Plan) -> Table:
    table = Table(title=f"Plan for {plan.recipe.name} → {plan.layout.root}")
    for column in ("#", "Step", "Kind", "Reads", "Writes", "Status"):
        table.add_column(column)
    for index, step in enumerate(plan.steps, 1):
        table.add_row(str(index), step.name, step.kind, ", ".join(step.reads),
                      _relative(step.writes, plan.layout.root), step_status(plan, step))
    return table


def checks_table(result: CheckResult) -> Table:
    table = Table(title="Training data (built without a model; lengths with the base tokenizer)")
    for column in ("Section", "Source", "Builder", "Examples", "Over max_length", "Answers copying the prompt"):
        table.add_column(column)
    for check in result.sources:
        if check.too_long is None:
            over = "—"
        else:
            share = 100 * check.too_long / check.examples if check.examples else 0
            over = f"{check.too_long} ({share:.0f} %) > {check.max_length}"
        echoes = ("— (labels)" if check.echoes is None else
                  f"{check.echoes} ({100 * check.echoes / check.examples:.0f} %)" if check.examples else "—")
        table.add_row(check.section, check.name, check.builder, str(check.examples), over, echoes)
    return table


def tasks_table(result: CheckResult) -> Table:
    table = Table(title="Evaluation tasks")
    for column in ("Task", "Kind", "Items"):
        table.add_column(column)
    for name, kind, items in result.tasks:
        table.add_row(name, kind, str(items))
    return table
