"""``kind: fidelity``: open questions; the share of answers in the target language (answers too short
to classify are counted apart, never guessed)."""

from __future__ import annotations

from typing import Any, Literal

from lingotune.eval.bootstrap import bootstrap_ci
from lingotune.eval.tasks.base import EvalItem, TaskScores, TaskSpec, metric, register


@register
class FidelityTask(TaskSpec):
    kind: Literal["fidelity"]

    def score(self, items: list[EvalItem], outputs: list[str], detections: list[dict[str, Any]],
              resamples: int) -> TaskScores:
        matches = [d["match"] for d in detections]
        classified = [100.0 if m else 0.0 for m in matches if m is not None]
        return TaskScores([{"fidelity": None if m is None else float(m)} for m in matches],
                          {"fidelity": metric(bootstrap_ci(classified, resamples))},
                          {"n_unclassified": sum(m is None for m in matches)})
