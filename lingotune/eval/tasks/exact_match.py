"""``kind: exact_match``: structured outputs (Hinglish-TOP semantic parses, slot strings) scored by exact
match after whitespace and case normalisation, with chrF beside it as partial credit.

A parse with one bracket or slot wrong is a wrong parse: exact match is the measure of the TOP papers.
chrF shows whether a model is getting closer when exact match is still near 0, as it is for a 135M
model before training.
"""

from __future__ import annotations

from typing import Any, Literal

from lingotune.data.example import Example
from lingotune.eval.bootstrap import bootstrap_ci
from lingotune.eval.tasks.base import EvalItem, TaskScores, TaskSpec, metric, register, templated
from lingotune.eval.translation import chrf_ci, sentence_chrf


def normalised(text: str) -> str:
    return " ".join(text.split()).casefold()


@register
class ExactMatchTask(TaskSpec):
    kind: Literal["exact_match"]

    def build(self, examples: list[Example], language_names: dict[str, str]) -> tuple[list[Example], list[Any]]:
        return templated(examples, self.prompt_template)

    def score(self, items: list[EvalItem], outputs: list[str], detections: list[dict[str, Any]],
              resamples: int) -> TaskScores:
        refs = [str(item.reference) for item in items]
        exact = [100.0 * (normalised(o) == normalised(r)) for o, r in zip(outputs, refs, strict=True)]
        per_item = [{"exact_match": e, "chrf": sentence_chrf(o, r)}
                    for e, o, r in zip(exact, outputs, refs, strict=True)]
        return TaskScores(per_item, {"exact_match": metric(bootstrap_ci(exact, resamples)),
                                     "chrf": metric(chrf_ci(outputs, refs, n_resamples=resamples))})
