"""Answer-language fidelity: did the model answer in the target language? (Detection itself is the
language layer's, ``lingotune.language.detect``.)"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from lingotune.language.codes import canonical_language, language_matches
from lingotune.language.detect import DEFAULT_MIN_LETTERS, DEFAULT_MIN_WORDS, detect_language

__all__ = ["canonical_language", "detect_language", "fidelity_scores", "language_matches", "summarize_fidelity"]


def fidelity_scores(
    texts: Iterable[str | None],
    target: str,
    *,
    min_letters: int = DEFAULT_MIN_LETTERS,
    min_words: int = DEFAULT_MIN_WORDS,
    low_accuracy: bool = False,
) -> list[dict[str, Any]]:
    """Per text ``{"detected": code | None, "match": bool | None}``; match is None when unclassifiable."""
    out: list[dict[str, Any]] = []
    for text in texts:
        detected = detect_language(text, min_letters=min_letters, min_words=min_words,
                                   low_accuracy=low_accuracy)  # fmt: skip
        out.append({"detected": detected,
                    "match": None if detected is None else language_matches(detected, target)})  # fmt: skip
    return out


def summarize_fidelity(scores: Iterable[dict[str, Any]]) -> dict[str, float | int]:
    """Aggregate ``fidelity_scores`` output.

    Returns n, classified, matched, too_short (items with detected None: below the thresholds, or, rarely,
    lingua declined to decide) and match_rate = matched / classified (nan when nothing was classifiable).
    Unclassifiable items are excluded from the rate, not counted as failures, and reported separately.
    """
    items = list(scores)
    classified = [s for s in items if s["match"] is not None]
    matched = sum(1 for s in classified if s["match"])
    return {
        "n": len(items),
        "classified": len(classified),
        "matched": matched,
        "too_short": len(items) - len(classified),
        "match_rate": matched / len(classified) if classified else float("nan"),
    }
