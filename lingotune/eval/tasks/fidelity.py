"""``kind: fidelity``: open questions; the share of answers in the target language.

The headline ``fidelity`` counts real answers only: an echo of the prompt, a repetition loop or an
answer too short to be one is in "the right language" without answering (issue 10), so those are left
out of it and counted by their own metrics; ``fidelity_raw`` keeps every classifiable answer. Answers
too short for the language detector are counted apart, never guessed."""

from __future__ import annotations

from typing import Any, Literal

from lingotune.eval.bootstrap import bootstrap_ci
from lingotune.eval.tasks.base import EvalItem, TaskScores, metric, register
from lingotune.eval.tasks.open_ended import OpenEndedTask


@register
class FidelityTask(OpenEndedTask):
    kind: Literal["fidelity"]

    def score(self, items: list[EvalItem], outputs: list[str], detections: list[dict[str, Any]],
              resamples: int) -> TaskScores:
        checks = self.check(items, outputs)
        scored = self.open_ended_scores(items, outputs, checks, resamples)
        matches = [d["match"] for d in detections]
        real = [None if m is None or not c.real else m for m, c in zip(matches, checks, strict=True)]
        for values, m, r in zip(scored.per_item, matches, real, strict=True):
            values["fidelity"] = None if r is None else float(r)
            values["fidelity_raw"] = None if m is None else float(m)
        metrics = {"fidelity": metric(bootstrap_ci([100.0 * m for m in real if m is not None], resamples)),
                   "fidelity_raw": metric(bootstrap_ci([100.0 * m for m in matches if m is not None], resamples)),
                   **scored.metrics}
        extra = {"n_unclassified": sum(m is None for m in matches),
                 "n_fidelity_real": sum(r is not None for r in real), **scored.extra}
        return TaskScores(scored.per_item, metrics, extra)
