"""Evaluation task kinds by their YAML name (``kind:`` of an eval task); one module each.

Adding a kind: a module here with a ``TaskSpec`` subclass decorated with ``@register`` (its
``kind: Literal["name"]`` is the YAML name), plus its import below.
"""

from __future__ import annotations

from typing import Annotated, Union

from pydantic import Field

from lingotune.eval.tasks import (  # noqa: F401  (each import registers its kind)
    classification,
    code,
    codemix_generation,
    exact_match,
    fidelity,
    qa,
    reference_chrf,
    translation,
)
from lingotune.eval.tasks.base import EVAL_SAMPLE_SEED, TASK_KINDS, EvalItem, TaskScores, TaskSpec

EvalTask = Annotated[Union[tuple(TASK_KINDS.values())], Field(discriminator="kind")]  # noqa: UP007 (runtime)

__all__ = ["EVAL_SAMPLE_SEED", "TASK_KINDS", "EvalItem", "EvalTask", "TaskScores", "TaskSpec"]
