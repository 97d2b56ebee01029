"""Percentile-bootstrap confidence intervals for per-item and corpus-level metrics.

Why bootstrap: the evaluation sets are small (XQuAD: 1190 questions per language; smoke runs use ~100
items), so before/after deltas of a point or two are often noise. We resample ITEMS with replacement
(Efron & Tibshirani 1993; Koehn 2004 for MT), vectorised with numpy and seeded, so a report is
reproducible bit-for-bit.

For corpus metrics (chrF, BLEU) the score is not a mean of item scores, so each resample must recompute
the corpus metric. For sacrebleu metric objects we do what sacrebleu's own ``--paired-bs`` does
(``sacrebleu/significance.py``): extract per-sentence sufficient statistics once, then sum resampled
rows and call ``_compute_score_from_stats`` -- ~1000 resamples of 100 items take well under a second.
A plain callable has to be re-run on every resample (sacrebleu chrF on 100 sentences: ~30 ms, i.e.
~30 s for 1000 resamples), so for plain callables ``n_resamples`` defaults to 200 instead of 1000.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

__all__ = ["bootstrap_ci", "paired_bootstrap_delta", "bootstrap_corpus_ci", "paired_corpus_delta", "resample_indices"]

Statistic = Callable[..., Any]
_CHUNK_ELEMENTS = 4_000_000  # cap on resample-matrix size per chunk (~32 MB of float64)


def _check(n_resamples: int, confidence: float) -> None:
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def _index_chunks(rng: np.random.Generator, n_items: int, n_resamples: int):
    """Yield (k, n_items) index matrices, k rows at a time, totalling n_resamples rows."""
    rows = max(1, _CHUNK_ELEMENTS // max(n_items, 1))
    done = 0
    while done < n_resamples:
        k = min(rows, n_resamples - done)
        yield rng.integers(0, n_items, size=(k, n_items))
        done += k


def resample_indices(n_items: int, n_resamples: int, seed: int = 0) -> Iterator[np.ndarray]:
    """The index matrices every bootstrap here draws for ``seed``, in order (rows of resampled item indices).

    Public so that a check can recompute a statistic on exactly the resamples a function used."""
    yield from _index_chunks(np.random.default_rng(seed), n_items, n_resamples)


def _percentiles(stats: np.ndarray, confidence: float) -> tuple[float, float]:
    alpha = (1.0 - confidence) / 2.0
    low, high = np.percentile(stats, [100.0 * alpha, 100.0 * (1.0 - alpha)])
    return float(low), float(high)


def _apply(statistic: Statistic, samples: np.ndarray) -> np.ndarray:
    """statistic over each row; uses ``axis=1`` when the statistic supports it (np.mean, np.median...)."""
    try:
        out = np.asarray(statistic(samples, axis=1), dtype=float)
        if out.shape == (samples.shape[0],):
            return out
    except TypeError:
        pass
    return np.array([float(statistic(row)) for row in samples])


def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    statistic: Statistic = np.mean,
) -> tuple[float, float, float]:
    """(point, low, high): ``statistic(values)`` and its percentile-bootstrap CI.

    Empty input -> (nan, nan, nan); a single value v -> (v, v, v) (no variability to resample).
    Deterministic for a given seed.
    """
    _check(n_resamples, confidence)
    arr = np.asarray(values, dtype=float).ravel()
    if arr.size == 0:
        return (float("nan"),) * 3
    point = float(statistic(arr))
    if arr.size == 1:
        return point, point, point
    rng = np.random.default_rng(seed)
    stats = np.concatenate([_apply(statistic, arr[idx]) for idx in _index_chunks(rng, arr.size, n_resamples)])
    low, high = _percentiles(stats, confidence)
    return point, low, high


def paired_bootstrap_delta(
    a: Sequence[float] | np.ndarray,
    b: Sequence[float] | np.ndarray,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(delta, low, high) for mean(b) - mean(a) over PAIRED items (e.g. per-question F1 before/after).

    Both arms are resampled with the same indices, which is equivalent to bootstrapping the per-item
    differences and keeps the between-item variance out of the delta's CI.
    """
    a_arr = np.asarray(a, dtype=float).ravel()
    b_arr = np.asarray(b, dtype=float).ravel()
    if a_arr.shape != b_arr.shape:
        raise ValueError(f"paired inputs differ in length: {a_arr.size} vs {b_arr.size}")
    return bootstrap_ci(b_arr - a_arr, n_resamples=n_resamples, confidence=confidence, seed=seed)


def _as_sacrebleu_metric(metric_fn: Any) -> Any | None:
    """The sacrebleu metric behind ``metric_fn``: the object itself, or ``metric_fn.sacrebleu_metric()``
    (set on ``translation.chrf`` so ``bootstrap_corpus_ci(h, r, chrf)`` is fast too); else None."""
    if hasattr(metric_fn, "_extract_corpus_statistics") and hasattr(metric_fn, "_compute_score_from_stats"):
        return metric_fn
    factory = getattr(metric_fn, "sacrebleu_metric", None)
    return factory() if callable(factory) else None


def bootstrap_corpus_ci(
    hyps: Sequence[str],
    refs: Sequence[str],
    metric_fn: Callable[[list[str], list[str]], float] | Any,
    n_resamples: int | None = None,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(point, low, high) for a corpus-level metric by resampling (hyp, ref) pairs.

    ``metric_fn`` is either a sacrebleu metric object (``CHRF()``, ``BLEU(tokenize=...)``) or a function
    carrying a ``sacrebleu_metric`` factory (``translation.chrf``): fast path via sufficient statistics,
    default 1000 resamples. Any other ``f(hyps, refs) -> float`` is recomputed per resample, default 200
    resamples (e.g. a BLEU lambda; prefer ``translation.bleu_ci`` there).
    Empty input -> nan triple; one item -> (v, v, v).
    """
    if len(hyps) != len(refs):
        raise ValueError(f"hyps and refs differ in length: {len(hyps)} vs {len(refs)}")
    metric = _as_sacrebleu_metric(metric_fn)
    n_resamples = n_resamples if n_resamples is not None else (1000 if metric is not None else 200)
    _check(n_resamples, confidence)
    if len(hyps) == 0:
        return (float("nan"),) * 3
    hyps, refs = list(hyps), list(refs)
    rng = np.random.default_rng(seed)
    if metric is not None:
        stats = np.asarray(metric._extract_corpus_statistics(hyps, [refs]), dtype=float)
        point = float(metric._compute_score_from_stats(stats.sum(0)).score)
        if len(hyps) == 1:
            return point, point, point
        scores = [
            metric._compute_score_from_stats(stats[row].sum(0)).score
            for idx in _index_chunks(rng, len(hyps), n_resamples)
            for row in idx
        ]
    else:
        point = float(metric_fn(hyps, refs))
        if len(hyps) == 1:
            return point, point, point
        scores = [
            metric_fn([hyps[i] for i in row], [refs[i] for i in row])
            for idx in _index_chunks(rng, len(hyps), n_resamples)
            for row in idx
        ]
    low, high = _percentiles(np.asarray(scores, dtype=float), confidence)
    return point, low, high


def paired_corpus_delta(
    hyps_a: Sequence[str],
    hyps_b: Sequence[str],
    refs: Sequence[str],
    metric: Any,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(delta, low, high) for corpus ``metric``(B) - ``metric``(A) on the same references, resampling items.

    What sacrebleu's ``--paired-bs`` does: per-sentence sufficient statistics of each system once, the
    SAME resample indices for both, both corpus scores recomputed from the summed statistics, and the
    percentile CI of their difference. A corpus score is not a mean of sentence scores, so bootstrapping
    per-sentence differences would measure something else. ``metric`` is a sacrebleu metric object (or a
    function with a ``sacrebleu_metric`` factory, like ``translation.chrf``). Empty -> nan triple.
    """
    if not len(hyps_a) == len(hyps_b) == len(refs):
        raise ValueError(f"paired inputs differ in length: {len(hyps_a)}, {len(hyps_b)}, {len(refs)} references")
    sacrebleu_metric = _as_sacrebleu_metric(metric)
    if sacrebleu_metric is None:
        raise TypeError("paired_corpus_delta needs a sacrebleu metric (sufficient statistics)")
    _check(n_resamples, confidence)
    if len(refs) == 0:
        return (float("nan"),) * 3
    stats = [np.asarray(sacrebleu_metric._extract_corpus_statistics(list(h), [list(refs)]), dtype=float)
             for h in (hyps_a, hyps_b)]

    def score(summed: np.ndarray) -> float:
        return float(sacrebleu_metric._compute_score_from_stats(summed).score)

    point = score(stats[1].sum(0)) - score(stats[0].sum(0))
    if len(refs) == 1:
        return point, point, point
    deltas = []
    for idx in resample_indices(len(refs), n_resamples, seed):
        counts = np.stack([np.bincount(row, minlength=len(refs)) for row in idx]).astype(float)
        summed_a, summed_b = counts @ stats[0], counts @ stats[1]  # each resample's summed statistics
        deltas += [score(b) - score(a) for a, b in zip(summed_a, summed_b, strict=True)]
    low, high = _percentiles(np.asarray(deltas), confidence)
    return point, low, high
