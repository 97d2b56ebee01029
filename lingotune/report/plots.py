"""Figures for the run report: the training-loss curve and the before/after bar charts.

Each function returns PNG bytes rather than writing a file, because the report needs the same image
twice: as a file next to ``report.md`` and as a base64 data URI inside the self-contained
``report.html``. Figures are built on ``matplotlib.figure.Figure`` directly (no ``pyplot``), so no
global backend or figure registry is touched: the report can run inside a training process, a
headless server or a test without a display, and without leaking figures.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

DPI = 110

# (value, low, high) of one metric in one stage; None where the stage lacks that task or metric.
Bar = tuple[float, float | None, float | None] | None


class LossPoint(NamedTuple):
    """One logged training step, as read from ``metrics.jsonl``."""

    step: float
    loss: float
    phase: str | None = None


class Series(NamedTuple):
    """The bars of one stage (e.g. "base") across all tasks of a chart, in task order."""

    label: str
    bars: Sequence[Bar]


def _to_png(fig: Figure) -> bytes:
    """Render with the Agg canvas; ``bbox_inches="tight"`` keeps outside legends and long labels."""
    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    return buffer.getvalue()


def _phase_segments(points: Sequence[LossPoint]) -> list[tuple[str | None, list[LossPoint]]]:
    """Split the curve into runs of consecutive points of the same phase (A, B, A gives three)."""
    segments: list[tuple[str | None, list[LossPoint]]] = []
    for point in points:
        if segments and segments[-1][0] == point.phase:
            segments[-1][1].append(point)
        else:
            segments.append((point.phase, [point]))
    return segments


def loss_curve_png(points: Sequence[LossPoint], title: str = "Training loss") -> bytes:
    """Plot loss against step; with phases, colour each phase and mark each change with a dashed line.

    A phase that recurs (A, B, A) keeps one colour and one legend entry, so the legend names phases,
    not segments.
    """
    fig = Figure(figsize=(8, 4.2))
    ax = fig.add_subplot()
    segments = _phase_segments(points)
    has_phases = any(phase is not None for phase, _ in segments)
    colours: dict[str | None, str] = {}
    for index, (phase, seg) in enumerate(segments):
        if phase not in colours:
            colours[phase] = f"C{len(colours) % 10}"
            label = phase if has_phases and phase is not None else None
        else:
            label = None
        ax.plot([p.step for p in seg], [p.loss for p in seg], color=colours[phase], lw=1.6,
                marker="o" if len(points) <= 60 else None, ms=3, label=label)
        if index > 0:
            ax.axvline(seg[0].step, color="0.35", ls="--", lw=1)
        if has_phases:
            ax.annotate(phase or "(no phase)", xy=(seg[0].step, 1.0), xycoords=("data", "axes fraction"),
                        xytext=(3, -3), textcoords="offset points", ha="left", va="top", fontsize=8,
                        color=colours[phase])
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    if has_phases:
        ax.legend(title="phase", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _to_png(fig)


def _error(bar: Bar) -> tuple[float, float]:
    """Distances from the value down to ``low`` and up to ``high``; 0 where a bound is missing."""
    if bar is None:
        return 0.0, 0.0
    value, low, high = bar
    below = value - low if low is not None else 0.0
    above = high - value if high is not None else 0.0
    return max(below, 0.0), max(above, 0.0)


def _top(series: Sequence[Series]) -> float:
    """Upper y limit with headroom for the value labels printed above the error bars."""
    tops = [bar[0] + _error(bar)[1] for s in series for bar in s.bars if bar is not None]
    top = max(tops, default=0.0)
    return max(top * 1.15 + 1.0, 5.0)


def metric_bars_png(metric: str, tasks: Sequence[str], series: Sequence[Series]) -> bytes:
    """Grouped bars: one group per task, one bar per stage, with the confidence interval as error bar.

    A task absent from a stage gets no bar but an "n/a" mark, so a missing evaluation is not read as
    a score of zero.
    """
    n_tasks, n_series = max(len(tasks), 1), max(len(series), 1)
    fig = Figure(figsize=(max(5.0, 1.2 * n_tasks * max(n_series, 2) / 2 + 2.5), 4.2))
    ax = fig.add_subplot()
    width = min(0.8 / n_series, 0.4)
    top = _top(series)
    for k, s in enumerate(series):
        xs = [i + (k - (n_series - 1) / 2) * width for i in range(len(tasks))]
        present = [(x, bar) for x, bar in zip(xs, s.bars, strict=True) if bar is not None]
        missing = [x for x, bar in zip(xs, s.bars, strict=True) if bar is None]
        errors = [_error(bar) for _, bar in present]
        ax.bar([x for x, _ in present], [bar[0] for _, bar in present], width=width * 0.95,
               color=f"C{k % 10}", label=s.label,
               yerr=[[e[0] for e in errors], [e[1] for e in errors]] if present else None,
               capsize=3, ecolor="0.2", error_kw={"lw": 1})
        for (x, bar), (_, above) in zip(present, errors, strict=True):
            ax.text(x, bar[0] + above + top * 0.01, f"{bar[0]:.1f}", ha="center", va="bottom", fontsize=7)
        for x in missing:
            ax.text(x, top * 0.01, "n/a", ha="center", va="bottom", fontsize=7, color="0.4")
    ax.set_xticks(range(len(tasks)))
    long_names = any(len(t) > 12 for t in tasks) or len(tasks) > 5
    ax.set_xticklabels(tasks, rotation=25 if long_names else 0, ha="right" if long_names else "center")
    ax.set_ylim(0, top)
    ax.set_ylabel(f"{metric} (0–100)")
    ax.set_title(f"{metric}: before → after (error bars: CI)" if len(series) > 1 else metric)
    ax.grid(axis="y", alpha=0.3)
    if series:
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    return _to_png(fig)


def histograms_png(values: dict[str, np.ndarray], title: str) -> bytes:
    """One histogram per named series, side by side (NaN values left out)."""
    fig = Figure(figsize=(8, 3.2), dpi=DPI)
    for k, (name, data) in enumerate(values.items()):
        ax = fig.add_subplot(1, len(values), k + 1)
        finite = data[np.isfinite(data)]
        ax.hist(finite, bins=20, color="#4C72B0", edgecolor="white")
        ax.set_xlabel(name)
        ax.set_ylabel("utterances" if k == 0 else "")
    fig.suptitle(title)
    fig.tight_layout()
    return _to_png(fig)
