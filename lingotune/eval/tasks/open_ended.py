"""What every open-ended task kind shares (answers without an extractive reference: ``fidelity``,
``reference_chrf``): each answer is checked for echo, loop and shortness (``eval/answer_checks.py``),
and where reference answers exist, chrF against them is reported as a weak extra signal.

Not a kind itself: kinds subclass it and add their own metric to ``open_ended_scores``.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from lingotune.eval.answer_checks import (
    ECHO_THRESHOLD,
    LOOP_THRESHOLD,
    MIN_ANSWER_WORDS,
    AnswerCheck,
    check_answer,
    check_metrics,
)
from lingotune.eval.answers_file import load_answers
from lingotune.eval.tasks.base import EvalItem, TaskScores, TaskSpec, metric
from lingotune.eval.translation import REFERENCE_CHRF, chrf_ci, sentence_chrf


class OpenEndedTask(TaskSpec):
    echo_threshold: float = Field(default=ECHO_THRESHOLD, gt=0, le=1)
    loop_threshold: float = Field(default=LOOP_THRESHOLD, gt=0, le=1)
    min_answer_words: float = Field(default=MIN_ANSWER_WORDS, ge=0)
    # FastChat reference answers (e.g. MT-Bench-X's GPT-4 answers to 30 questions per language), matched by
    # question id; the first turn's reference is scored with chrF as ``reference_chrf``: content overlap
    # with one good answer, a weak signal (a good answer can share few character n-grams with it).
    reference_answers: str | None = None

    def file_fields(self) -> list[str]:
        return ["path", "reference_answers"] if self.reference_answers else ["path"]

    def load_items(self, language_names: dict[str, str] | None = None) -> list[EvalItem]:
        items = super().load_items(language_names)
        if self.reference_answers:
            references = load_answers(self.reference_answers)
            for item in items:
                turns = references.get(item.id) or []
                item.reference = turns[0] if turns else ""
        return items

    def check(self, items: list[EvalItem], outputs: list[str]) -> list[AnswerCheck]:
        return [check_answer(item.conversation[-1]["content"] if item.conversation else "", output,
                             echo_threshold=self.echo_threshold, loop_threshold=self.loop_threshold,
                             min_words=self.min_answer_words)
                for item, output in zip(items, outputs, strict=True)]

    def open_ended_scores(self, items: list[EvalItem], outputs: list[str], checks: list[AnswerCheck],
                          resamples: int) -> TaskScores:
        """The checks' per-item values and metrics, plus reference chrF over the items with a reference."""
        per_item: list[dict[str, Any]] = [c.scores() for c in checks]
        metrics, extra = check_metrics(checks, resamples, echo_threshold=self.echo_threshold,
                                       loop_threshold=self.loop_threshold, min_words=self.min_answer_words)
        with_reference = [k for k, item in enumerate(items) if isinstance(item.reference, str) and item.reference]
        if self.reference_answers and with_reference:
            for k in with_reference:
                per_item[k][REFERENCE_CHRF] = sentence_chrf(outputs[k], str(items[k].reference))
            metrics[REFERENCE_CHRF] = metric(chrf_ci([outputs[k] for k in with_reference],
                                                     [str(items[k].reference) for k in with_reference],
                                                     n_resamples=resamples))
            extra["n_with_reference"] = len(with_reference)
        return TaskScores(per_item, metrics, extra)
