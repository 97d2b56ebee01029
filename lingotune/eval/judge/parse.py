"""Strict verdict parsing.

FastChat takes the first ``[[N]]`` and falls back to a single bracket, and for pairwise checks
``[[A]]`` before ``[[B]]``, so a judge that writes both is read as "A". Here a verdict counts only
when every verdict-shaped token in the output agrees: an output naming two different ratings or
two winners is ambiguous and reported as unparseable (then repaired or recorded, never guessed).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_RATING = re.compile(r"\[\[\s*(\d+(?:\.\d+)?)\s*\]\]")
_CHOICE = re.compile(r"\[\[\s*([ABC])\s*\]\]")


@dataclass(frozen=True)
class Verdict:
    """``value`` is a rating (float, 1–10) or "A"/"B"/"C"; None with ``error`` when unparseable."""

    value: float | str | None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.value is not None


def parse_rating(text: str | None) -> Verdict:
    """``[[7]]`` or ``[[7.5]]`` on a 1–10 scale; repeated identical ratings are fine."""
    found = {float(m) for m in _RATING.findall(text or "")}
    if not found:
        return Verdict(None, "no [[rating]] in the judge output")
    if len(found) > 1:
        return Verdict(None, f"ambiguous: several ratings {sorted(found)}")
    (rating,) = found
    if not 1.0 <= rating <= 10.0:
        return Verdict(None, f"rating {rating:g} outside 1–10")
    return Verdict(rating)


def parse_choice(text: str | None) -> Verdict:
    """``[[A]]``, ``[[B]]`` or ``[[C]]`` (tie); a mix of different choices is ambiguous."""
    found = set(_CHOICE.findall(text or ""))
    if not found:
        return Verdict(None, "no [[A]]/[[B]]/[[C]] in the judge output")
    if len(found) > 1:
        return Verdict(None, f"ambiguous: several verdicts {sorted(found)}")
    return Verdict(found.pop())
