"""``kind: reference_chrf``: open prompts with reference answers (e.g. MT-Bench-X's GPT-4 references),
scored by chrF against the reference: a weak signal of content overlap, not of quality (a good answer
can differ from the reference in every character), so the kind says so; the metric is corpus ``chrf``
like translation's, so reports pair it the same way. Answers are checked for echo/loop/shortness like
every open-ended kind's."""

from __future__ import annotations

from typing import Any, Literal

from lingotune.eval.tasks.base import EvalItem, TaskScores, metric, register
from lingotune.eval.tasks.open_ended import OpenEndedTask
from lingotune.eval.translation import chrf_ci, sentence_chrf


@register
class ReferenceChrfTask(OpenEndedTask):
    kind: Literal["reference_chrf"]

    def score(self, items: list[EvalItem], outputs: list[str], detections: list[dict[str, Any]],
              resamples: int) -> TaskScores:
        refs = [str(item.reference) for item in items]
        checked = self.open_ended_scores(items, outputs, self.check(items, outputs), resamples)
        for values, output, ref in zip(checked.per_item, outputs, refs, strict=True):
            values["chrf"] = sentence_chrf(output, ref)
        return TaskScores(checked.per_item, {"chrf": metric(chrf_ci(outputs, refs, n_resamples=resamples)),
                                             **checked.metrics}, checked.extra)
