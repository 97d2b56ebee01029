"""``kind: translation``: parallel data as translation prompts; corpus chrF and BLEU with CIs."""

from __future__ import annotations

from typing import Any, Literal

from lingotune.data.builders import build_translation
from lingotune.data.example import Example
from lingotune.eval.tasks.base import EvalItem, TaskScores, TaskSpec, metric, register
from lingotune.eval.translation import bleu_ci, chrf_ci, sentence_chrf


@register
class TranslationTask(TaskSpec):
    kind: Literal["translation"]

    def build(self, examples: list[Example], language_names: dict[str, str]) -> tuple[list[Example], list[Any]]:
        built = build_translation(examples, self.source_language or "en", self.language, self.prompt_template,
                                  language_names)
        return built, [e.response or "" for e in built]

    def score(self, items: list[EvalItem], outputs: list[str], detections: list[dict[str, Any]],
              resamples: int) -> TaskScores:
        refs = [str(item.reference) for item in items]
        chrfs = [sentence_chrf(o, r) for o, r in zip(outputs, refs, strict=True)]
        return TaskScores([{"chrf": c} for c in chrfs], {
            "chrf": metric(chrf_ci(outputs, refs, n_resamples=resamples)),
            "bleu": metric(bleu_ci(outputs, refs, self.language, n_resamples=resamples)),
        })
