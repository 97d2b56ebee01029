"""``kind: qa``: extractive QA (XQuAD, MLQA, SQuAD format), SQuAD's EM and F1 on the extracted answer."""

from __future__ import annotations

from typing import Any, Literal

from lingotune.data.builders import build_extractive_qa
from lingotune.data.example import Example
from lingotune.eval.bootstrap import bootstrap_ci
from lingotune.eval.qa import exact_match, extract_answer, f1_score
from lingotune.eval.tasks.base import EvalItem, TaskScores, TaskSpec, metric, register


@register
class QATask(TaskSpec):
    kind: Literal["qa"]

    def build(self, examples: list[Example], language_names: dict[str, str]) -> tuple[list[Example], list[Any]]:
        built = build_extractive_qa(examples, self.prompt_template)
        return built, [e.meta["answers"] for e in built]

    def score(self, items: list[EvalItem], outputs: list[str], detections: list[dict[str, Any]],
              resamples: int) -> TaskScores:
        predictions = [extract_answer(o) for o in outputs]
        pairs = list(zip(predictions, items, strict=True))
        f1s = [100 * f1_score(p, item.reference, self.language) for p, item in pairs]
        ems = [100 * exact_match(p, item.reference, self.language) for p, item in pairs]
        return TaskScores([{"f1": f, "em": e} for f, e in zip(f1s, ems, strict=True)],
                          {"f1": metric(bootstrap_ci(f1s, resamples)), "em": metric(bootstrap_ci(ems, resamples))})
