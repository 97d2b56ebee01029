"""A metric value with its confidence interval, as the reports read it from a summary."""

from __future__ import annotations

from dataclasses import dataclass

from lingotune.report.run_files import DASH, is_number


@dataclass(frozen=True)
class Estimate:
    """A metric value with its confidence interval (bounds optional: not every metric has one)."""

    value: float
    low: float | None = None
    high: float | None = None

    @classmethod
    def parse(cls, raw: object) -> Estimate | None:
        """Accept ``{"value", "low", "high"}`` or a bare number; anything else is "not measured"."""
        if is_number(raw):
            return cls(float(raw))  # type: ignore[arg-type]
        if not isinstance(raw, dict) or not is_number(raw.get("value")):
            return None
        low, high = raw.get("low"), raw.get("high")
        return cls(float(raw["value"]), float(low) if is_number(low) else None,
                   float(high) if is_number(high) else None)

    @property
    def lo(self) -> float:
        return self.low if self.low is not None else self.value

    @property
    def hi(self) -> float:
        return self.high if self.high is not None else self.value

    def __str__(self) -> str:
        if self.low is None or self.high is None:
            return f"{self.value:.1f}"
        return f"{self.value:.1f} [{self.low:.1f}, {self.high:.1f}]"


def retention(before: Estimate | None, after: Estimate | None) -> str:
    """After as a percentage of before: how much English ability the adaptation kept."""
    if before is None or after is None:
        return DASH
    if before.value == 0:
        return "n/a"
    return f"{after.value / before.value * 100:.1f} %"
