"""Echo / loop / too-short rates of an evaluation's open-ended answers, with bootstrap CIs.

The per-answer measures and their thresholds are the language layer's (``language/echo_loop.py``, which
says what each one is and why its threshold is where it is); training-data checks use them too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from lingotune.eval.bootstrap import bootstrap_ci
from lingotune.language.echo_loop import (  # noqa: F401  (re-exported for evaluation code)
    ECHO_THRESHOLD,
    LOOP_THRESHOLD,
    MIN_ANSWER_WORDS,
    AnswerCheck,
    check_answer,
    echo_share,
    loop_share,
    units,
    word_count,
)

CHECK_METRICS = ("echo", "loop", "too_short", "answer_chars")  # summary metric names; rates on 0–100
RATE_METRICS = ("echo", "loop", "too_short")


def check_metrics(checks: Sequence[AnswerCheck], resamples: int, *, echo_threshold: float = ECHO_THRESHOLD,
                  loop_threshold: float = LOOP_THRESHOLD,
                  min_words: float = MIN_ANSWER_WORDS) -> tuple[dict[str, Any], dict[str, Any]]:
    """(metrics with bootstrap CIs, extra summary fields: counts, the length distribution, the thresholds
    the checks used)."""
    metrics: dict[str, Any] = {}
    for name in RATE_METRICS:
        value, low, high = bootstrap_ci([100.0 * getattr(c, name) for c in checks], resamples)
        metrics[name] = {"value": value, "low": low, "high": high}
    value, low, high = bootstrap_ci([float(c.chars) for c in checks], resamples)
    metrics["answer_chars"] = {"value": value, "low": low, "high": high}
    lengths = np.asarray([c.chars for c in checks], dtype=float)
    quantiles = (np.percentile(lengths, [10, 50, 90]).round(1).tolist() if lengths.size else [None] * 3)
    extra = {"answer_checks": {"n_echo": sum(c.echo for c in checks), "n_loop": sum(c.loop for c in checks),
                               "n_too_short": sum(c.too_short for c in checks),
                               "n_real": sum(c.real for c in checks),
                               "answer_chars_p10_p50_p90": quantiles,
                               "thresholds": {"echo": echo_threshold, "loop": loop_threshold,
                                              "min_words": min_words}}}
    return metrics, extra
