"""Paired comparisons of two systems on the same test items, and the one verdict vocabulary of all reports.

Why paired: two models answering the SAME 100 questions share most of their item-to-item variance (hard
questions are hard for both). Asking whether their two 95 % CIs overlap ignores that and is much stricter
than a 5 % test (two intervals can overlap while the CI of the difference excludes 0), so real changes
were reported as noise. Here Δ = B − A gets its own bootstrap CI, both systems resampled on the same item
indices (Koehn 2004; sacrebleu's ``--paired-bs``):

* per-item metrics (F1, EM, fidelity, the judge's 1–10 score, the echo/loop/too-short flags of open-ended
  answers): the per-item differences are bootstrapped; fidelity over the items classified in both (an
  answer too short to classify, or for the headline fidelity not a real answer, has no score);
* corpus metrics (chrF, BLEU): each system's sufficient statistics are summed on the same resamples and
  both corpus scores recomputed and subtracted (``bootstrap.paired_corpus_delta``), with translation.py's
  metric objects and BLEU tokeniser, so the numbers are the evaluation's own.

Everything is recomputed at report time from ``eval/<stage>/<task>.jsonl`` (the judge's from
``eval/<stage>/judge/single.jsonl`` and ``checks.jsonl``), so run folders written before this module get
paired verdicts too.
Where pairing is impossible (no records, ids that differ, records that do not reproduce the summary's value)
the comparison is "unpaired", says why, and the verdict falls back to the two summary CIs: a difference
only when they do not overlap. Reports never fail on it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lingotune.eval.answer_checks import CHECK_METRICS, RATE_METRICS
from lingotune.eval.bootstrap import paired_bootstrap_delta, paired_corpus_delta
from lingotune.eval.translation import CORPUS_METRICS, REFERENCE_CHRF, corpus_metric
from lingotune.report.run_files import DASH, is_number, load_items

__all__ = ["BETTER", "WORSE", "NO_CLEAR_DIFFERENCE", "VERDICTS", "Side", "Comparison", "compare", "verdict",
           "task_verdicts", "higher_is_better", "delta_cell", "versus_cell", "explain"]

BETTER, WORSE, NO_CLEAR_DIFFERENCE = "better", "worse", "no clear difference"
VERDICTS = (BETTER, WORSE, NO_CLEAR_DIFFERENCE)
CONFIDENCE = 0.95
SEED = 0  # fixed: a report rebuilt from the same records shows the same intervals
DEFAULT_RESAMPLES = 1000
TOLERANCE = 0.05  # records must reproduce the summary's value to half the displayed precision
# per-item records hold 0/1, summaries 0–100 (% of answers)
PER_ITEM_SCALE = {name: 100.0 for name in ("fidelity", "fidelity_raw", *RATE_METRICS)}
# echo, loop, too_short: % of answers that are not answers; unparseable: % of labels not given;
# s_index_gap: distance of the answers' code-mixing level to the one asked for
LOWER_IS_BETTER = frozenset({*RATE_METRICS, "unparseable", "s_index_gap"})
# longer is not better, nor is more (or less) mixing: the verdict says which way it moved
NO_DIRECTION = frozenset({"answer_chars", "s_index", "cmi"})
HIGHER, LOWER = "higher", "lower"
# An open-ended task whose answers echo or loop more is worse, whatever its other metrics do (issue 10).
GUARDS = ("echo", "loop")

Interval = tuple[float, float, float]  # value, low, high (low = high = value when no CI was recorded)


@dataclass(frozen=True)
class Side:
    """One system of a comparison: a stage of a run folder and that task's summary entry."""

    run_dir: Path
    stage: str
    entry: dict[str, Any] | None
    label: str = ""

    @property
    def name(self) -> str:
        """How reasons name this side: a run's label in comparisons, the stage in a run report."""
        return self.label or self.stage


@dataclass(frozen=True)
class Comparison:
    """B against A on one (task, metric): Δ = B − A and its paired CI, or why it could not be paired."""

    before: Interval
    after: Interval
    delta: float
    low: float | None = None
    high: float | None = None
    n: int = 0
    resamples: int = 0
    subset: str = ""  # "classified in both" when only part of the items has a score in both systems
    unpaired: str | None = None
    metric: str = ""  # its direction decides the verdict: see LOWER_IS_BETTER, NO_DIRECTION

    @property
    def paired(self) -> bool:
        return self.unpaired is None


def interval(entry: dict[str, Any] | None, metric: str) -> Interval | None:
    """``{"value", "low", "high"}`` (or a bare number) of ``metric`` in a task entry; None when not measured."""
    metrics = (entry or {}).get("metrics")
    raw = metrics.get(metric) if isinstance(metrics, dict) else None
    if is_number(raw):
        return float(raw), float(raw), float(raw)  # type: ignore[arg-type]
    if not isinstance(raw, dict) or not is_number(raw.get("value")):
        return None
    value, low, high = float(raw["value"]), raw.get("low"), raw.get("high")
    return value, float(low) if is_number(low) else value, float(high) if is_number(high) else value


def _decide(low: float, high: float, metric: str = "") -> str:
    higher = higher_is_better(metric)
    up, down = (HIGHER, LOWER) if higher is None else (BETTER, WORSE) if higher else (WORSE, BETTER)
    return up if low > 0 else down if high < 0 else NO_CLEAR_DIFFERENCE


def higher_is_better(metric: str) -> bool | None:
    """True for scores (F1, chrF, fidelity, judge score), False for failure rates, None for lengths."""
    return None if metric in NO_DIRECTION else metric not in LOWER_IS_BETTER


def verdict(comparison: Comparison | None) -> str:
    """The verdict of every report: "better"/"worse" when the 95 % CI of Δ excludes 0, else "no clear difference".

    For failure rates (echo, loop, too_short) a rise is "worse"; for answer length, which has no better
    direction, the verdict is "higher"/"lower". An unpaired comparison has no CI of Δ; the widest Δ the two
    summary CIs allow stands in for it, which excludes 0 exactly when they do not overlap (touching
    intervals are no difference). "—": nothing to compare.
    """
    if comparison is None:
        return DASH
    if comparison.paired and comparison.low is not None and comparison.high is not None:
        return _decide(comparison.low, comparison.high, comparison.metric)
    (_, a_low, a_high), (_, b_low, b_high) = comparison.before, comparison.after
    return _decide(b_low - a_high, b_high - a_low, comparison.metric)


def task_verdicts(comparisons: dict[str, Comparison | None]) -> dict[str, str]:
    """The verdict of each metric of one task, with the open-ended guard applied.

    When the echo or loop rate rose beyond its CI, every score of that task (fidelity, chrF, the judge's
    rating) is "worse (echo rate rose)": an answer that copies the prompt or loops is in the right language
    and may even overlap a reference, so those scores cannot vouch for the model."""
    verdicts = {metric: verdict(c) for metric, c in comparisons.items()}
    risen = [name for name in GUARDS if verdicts.get(name) == WORSE]
    if not risen:
        return verdicts
    why = f"{WORSE} ({' and '.join(risen)} rate rose)"
    return {metric: why if higher_is_better(metric) and v != WORSE else v for metric, v in verdicts.items()}


def _signed(value: float | None) -> str:
    return DASH if value is None else f"{round(value, 1) + 0.0:+.1f}"  # + 0.0: no "-0.0"


def delta_cell(comparison: Comparison | None) -> str:
    """ "Δ [low, high]" of a paired comparison; "Δ (unpaired: why)" otherwise; "—" when nothing to compare."""
    if comparison is None:
        return DASH
    if comparison.paired:
        return f"{_signed(comparison.delta)} [{_signed(comparison.low)}, {_signed(comparison.high)}]"
    return f"{_signed(comparison.delta)} (unpaired: {comparison.unpaired})"


def versus_cell(comparison: Comparison | None, shown_verdict: str | None = None) -> str:
    """Δ with its CI and the verdict in one cell, for tables with one column per compared system.

    ``shown_verdict``: the task's guarded verdict (``task_verdicts``) when it differs from the metric's own."""
    if comparison is None:
        return DASH
    return f"{delta_cell(comparison)} {shown_verdict or verdict(comparison)}"


# --------------------------------------------------------------------------- pairing the records


def _resamples(a: Side, b: Side) -> int:
    """The evaluation's own resample count when its summary recorded one, else ``DEFAULT_RESAMPLES``."""
    for side in (b, a):
        for key in ("bootstrap_resamples", "resamples"):
            value = (side.entry or {}).get(key)
            if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                return value
    return DEFAULT_RESAMPLES


def _is_judge(side: Side) -> bool:
    return (side.entry or {}).get("kind") == "judge"


def _values(side: Side, task: str, metric: str) -> dict[str, float | None] | str:
    """Per-item values of ``metric`` by id (None: not scored, e.g. unclassified), or why there are none.

    The mean of the scored values must give the summary's value: a check that the records are the ones
    the summary was computed from (and on its scale)."""
    checks = _is_judge(side) and metric in CHECK_METRICS  # the judge's answers, checked: judge/checks.jsonl
    judge = _is_judge(side) and not checks
    if judge and metric != "judge_score":
        return f"{metric} has no per-item records to pair"
    records = load_items(side.run_dir, side.stage, "judge/single" if judge else "judge/checks" if checks else task)
    if not records:
        return f"no per-item records for {side.name}"
    values: dict[str, float | None] = {}
    for record in records:
        key = f"{record.get('question_id')}/{record.get('turn')}" if judge else str(record.get("id"))
        scores = record.get("scores")
        raw = record.get("score") if judge else scores.get(metric) if isinstance(scores, dict) else None
        if raw is not None and not is_number(raw):
            return f"a non-numeric {metric} in {side.name}'s records"
        if key in values:
            return f"id {key} twice in {side.name}'s records"
        values[key] = None if raw is None else float(raw) * PER_ITEM_SCALE.get(metric, 1.0)
    scored = [v for v in values.values() if v is not None]
    if not scored:
        return f"no per-item {metric} in {side.name}'s records"
    return _check_summary(side, metric, float(np.mean(scored))) or values


def _check_summary(side: Side, metric: str, recomputed: float) -> str | None:
    expected = interval(side.entry, metric)
    if expected is not None and abs(recomputed - expected[0]) > TOLERANCE:
        return f"{side.name}'s records give {recomputed:.1f}, its summary {expected[0]:.1f}"
    return None


def _same_ids(a_ids: Iterable[str], b_ids: Iterable[str], a: Side, b: Side) -> str | None:
    only_a, only_b = set(a_ids) - set(b_ids), set(b_ids) - set(a_ids)
    if only_a or only_b:
        return f"ids differ ({len(only_a)} only in {a.name}, {len(only_b)} only in {b.name})"
    return None


def _per_item(a: Side, b: Side, task: str, metric: str, resamples: int) -> dict[str, Any] | str:
    values_a, values_b = _values(a, task, metric), _values(b, task, metric)
    for values in (values_a, values_b):
        if isinstance(values, str):
            return values
    assert isinstance(values_a, dict) and isinstance(values_b, dict)
    if reason := _same_ids(values_a, values_b, a, b):
        return reason
    ids = [k for k, v in values_a.items() if v is not None and values_b[k] is not None]
    if len(ids) < 2:  # one item has no spread to resample: its CI would be a point and call any change
        return f"{len(ids)} item(s) scored in both"
    delta, low, high = paired_bootstrap_delta([values_a[k] for k in ids], [values_b[k] for k in ids],  # type: ignore[misc]
                                              n_resamples=resamples, confidence=CONFIDENCE, seed=SEED)
    real = metric == "fidelity" and any("n_fidelity_real" in (side.entry or {}) for side in (a, b))
    subset = ("" if len(ids) == len(values_a) else "real answers classified in both" if real
              else "classified in both" if metric in ("fidelity", "fidelity_raw") else "scored in both")
    return {"delta": delta, "low": low, "high": high, "n": len(ids), "subset": subset}


def _texts(side: Side, task: str, metric: str) -> dict[str, tuple[str, str]] | str:
    """(output, reference) by id, or why not: corpus metrics are recomputed from the texts themselves."""
    records = load_items(side.run_dir, side.stage, task)
    if not records:
        return f"no per-item records for {side.name}"
    texts: dict[str, tuple[str, str]] = {}
    for record in records:
        key, output, reference = str(record.get("id")), record.get("output"), record.get("reference")
        if not isinstance(output, str) or not isinstance(reference, str):
            return f"outputs or references in {side.name}'s records are not single texts"
        if key in texts:
            return f"id {key} twice in {side.name}'s records"
        texts[key] = (output, reference)
    if metric == REFERENCE_CHRF:  # only some items have a reference answer
        texts = {k: v for k, v in texts.items() if v[1]}
    return texts


def _corpus(a: Side, b: Side, task: str, metric: str, resamples: int) -> dict[str, Any] | str:
    texts_a, texts_b = _texts(a, task, metric), _texts(b, task, metric)
    for texts in (texts_a, texts_b):
        if isinstance(texts, str):
            return texts
    assert isinstance(texts_a, dict) and isinstance(texts_b, dict)
    if reason := _same_ids(texts_a, texts_b, a, b):
        return reason
    ids = list(texts_a)
    if len(ids) < 2:
        return f"{len(ids)} item(s) in both"
    if differing := sum(texts_a[k][1] != texts_b[k][1] for k in ids):
        return f"references differ on {differing} items"
    language = (b.entry or {}).get("language") or (a.entry or {}).get("language")
    scorer = corpus_metric(metric, language)
    assert scorer is not None
    refs = [texts_a[k][1] for k in ids]
    hyps_a, hyps_b = [texts_a[k][0] for k in ids], [texts_b[k][0] for k in ids]
    for side, hyps in ((a, hyps_a), (b, hyps_b)):
        if reason := _check_summary(side, metric, float(scorer.corpus_score(hyps, [refs]).score)):
            return reason
    delta, low, high = paired_corpus_delta(hyps_a, hyps_b, refs, scorer, n_resamples=resamples,
                                           confidence=CONFIDENCE, seed=SEED)
    return {"delta": delta, "low": low, "high": high, "n": len(ids),
            "subset": "with a reference" if metric == REFERENCE_CHRF else ""}


def compare(a: Side, b: Side, task: str, metric: str) -> Comparison | None:
    """B against A on ``task``/``metric``: paired when the records allow, else unpaired with the reason.

    None when either side has no value for the metric (nothing to compare). Never raises on bad or
    missing records: a report is most wanted when a run went wrong."""
    before, after = interval(a.entry, metric), interval(b.entry, metric)
    if before is None or after is None:
        return None
    resamples = _resamples(a, b)
    corpus = metric in CORPUS_METRICS and not _is_judge(a) and not _is_judge(b)
    try:
        result = (_corpus if corpus else _per_item)(a, b, task, metric, resamples)
    except Exception as err:  # anything odd in a records file: unpaired, never a crash
        result = f"records could not be paired ({type(err).__name__}: {err})"
    if isinstance(result, str):
        return Comparison(before, after, after[0] - before[0], unpaired=result, metric=metric)
    return Comparison(before, after, result["delta"], result["low"], result["high"], result["n"], resamples,
                      result["subset"], metric=metric)


def explain(comparisons: Iterable[tuple[str, Comparison | None]], delta: str) -> str:
    """The note under a table of Δs: what Δ is, how it was resampled, over how many items, what the words mean."""
    listed = [(task, c) for task, c in comparisons if c is not None]
    paired = [(task, c) for task, c in listed if c.paired]
    sizes: dict[str, set[int]] = {}
    subsets: dict[str, str] = {}
    for task, c in paired:
        sizes.setdefault(task, set()).add(c.n)
        subsets[task] = subsets.get(task) or c.subset
    text = ""
    if paired:
        counts = [f"{task} {min(ns)}" + (f"–{max(ns)}" if len(ns) > 1 else "") +
                  (f" ({subsets[task]})" if subsets[task] else "") for task, ns in sizes.items()]
        resamples = "/".join(str(r) for r in sorted({c.resamples for _, c in paired}))
        text = (f"Δ = {delta}, with a paired bootstrap 95 % CI: items matched by id, both systems resampled on "
                f"the same indices ({resamples} resamples, seed {SEED}; chrF and BLEU recomputed from each "
                f"system's sufficient statistics on every resample). Items per task: {', '.join(counts)}. ")
    else:
        text = f"Δ = {delta}. "
    text += f"'{BETTER}' / '{WORSE}' when the CI of Δ excludes 0, else '{NO_CLEAR_DIFFERENCE}'."
    if len(paired) < len(listed):
        text += (" 'unpaired': the per-item records could not be matched (reason in the cell); the verdict then "
                 f"compares the two CIs: '{BETTER}' / '{WORSE}' only when they do not overlap, a stricter test.")
    return text
