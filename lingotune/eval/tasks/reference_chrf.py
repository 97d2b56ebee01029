"""``kind: reference_chrf``: open prompts with reference answers (e.g. MT-Bench-X's GPT-4 references),
scored by chrF against the reference: a weak signal of content overlap, not of quality (a good answer
can differ from the reference in every character), so the kind says so; the metric is corpus ``chrf``
like translation's, so reports pair it the same way."""

from __future__ import annotations

from typing import Any, Literal

from lingotune.eval.tasks.base import EvalItem, TaskScores, TaskSpec, metric, register
from lingotune.eval.translation import chrf_ci, sentence_chrf


@register
class ReferenceChrfTask(TaskSpec):
    kind: Literal["reference_chrf"]

    def score(self, items: list[EvalItem], outputs: list[str], detections: list[dict[str, Any]],
              resamples: int) -> TaskScores:
        refs = [str(item.reference) for item in items]
        return TaskScores([{"chrf": sentence_chrf(o, r)} for o, r in zip(outputs, refs, strict=True)],
                          {"chrf": metric(chrf_ci(outputs, refs, n_resamples=resamples))})
