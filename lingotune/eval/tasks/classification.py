"""``kind: classification``: labelled texts (SentiMix sentiment…) asked as "which label?", scored by
accuracy and macro-F1 on labels parsed strictly from the answers.

Strict parsing: the answer's first line must name exactly one of the labels as a whole word
(casefolded); "positive" and "The sentiment is positive." parse, "positive or negative", "positivo"
and an empty answer do not. Unparseable answers count as wrong in both metrics and are reported as
their own rate, since a model that stops answering with a label is a different failure from one that
picks the wrong one. Macro-F1 averages the per-label F1 over the label set (a label never predicted
nor gold is left out), with a bootstrap CI over items.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import regex
from pydantic import Field

from lingotune.data.example import Example
from lingotune.data.recipe_builders.classification import build_classification
from lingotune.eval.bootstrap import bootstrap_ci
from lingotune.eval.tasks.base import EvalItem, TaskScores, TaskSpec, metric, register


def parse_label(answer: str, labels: list[str]) -> str | None:
    """The one label the answer's first line names, else None."""
    first = next((line for line in answer.strip().splitlines() if line.strip()), "").casefold()
    found = [label for label in labels
             if regex.search(rf"(?<![\p{{L}}\p{{N}}]){regex.escape(label.casefold())}(?![\p{{L}}\p{{N}}])", first)]
    return found[0] if len(found) == 1 else None


def macro_f1(gold: np.ndarray, predicted: np.ndarray, n_labels: int) -> float:
    """Macro-F1 over label ids 0..n_labels-1; ``predicted`` −1 = unparseable (wrong for every label)."""
    scores = []
    for label in range(n_labels):
        tp = np.sum((gold == label) & (predicted == label))
        fp = np.sum((gold != label) & (predicted == label))
        fn = np.sum((gold == label) & (predicted != label))
        if tp + fp + fn:
            scores.append(2 * tp / (2 * tp + fp + fn))
    return 100 * float(np.mean(scores)) if scores else float("nan")


@register
class ClassificationTask(TaskSpec):
    kind: Literal["classification"]
    labels: list[str] | None = Field(default=None, min_length=2)
    max_new_tokens: int = Field(default=8, gt=0)

    def build(self, examples: list[Example], language_names: dict[str, str]) -> tuple[list[Example], list[Any]]:
        built, label_set = build_classification(examples, self.labels, self.prompt_template)
        for example in built:
            example.meta["labels"] = label_set
        return built, [e.meta["label"] for e in built]

    def score(self, items: list[EvalItem], outputs: list[str], detections: list[dict[str, Any]],
              resamples: int) -> TaskScores:
        label_set: list[str] = list(items[0].meta["labels"]) if items else []
        ids = {label: i for i, label in enumerate(label_set)}
        parsed = [parse_label(output, label_set) for output in outputs]
        gold = np.array([ids[str(item.reference)] for item in items])
        predicted = np.array([ids[p] if p is not None else -1 for p in parsed])
        correct = (gold == predicted).astype(float) * 100
        unparseable = (predicted == -1).astype(float) * 100
        n = len(label_set)
        # one bootstrap over items for macro-F1: each value encodes (gold, predicted) of one item
        pairs = gold * (n + 1) + (predicted + 1)

        def resampled_f1(values: np.ndarray) -> float:
            codes = values.astype(int)
            return macro_f1(codes // (n + 1), codes % (n + 1) - 1, n)

        per_item = [{"accuracy": c, "unparseable": u, "parsed": p}
                    for c, u, p in zip(correct, unparseable, parsed, strict=True)]
        return TaskScores(per_item, {
            "accuracy": metric(bootstrap_ci(correct, resamples)),
            "macro_f1": metric(bootstrap_ci(pairs, resamples, statistic=resampled_f1)),
            "unparseable": metric(bootstrap_ci(unparseable, resamples)),
        }, {"labels": label_set})
