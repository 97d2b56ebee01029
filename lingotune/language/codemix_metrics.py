"""Code-mixing metrics of tagged utterances and corpora (methods.md §4.1–4.2), for any language pair.

Why not the usual scripts: they hard-code the tags (``EN``/``HI`` and ``UNIV``), so another pair or
another tagset silently counts every token as "other", and they crash or divide by zero on short
inputs (an empty utterance, one language token, a single span). Here tags are the canonical ones of
:mod:`lingotune.language.tagsets` (language codes; ``other``, ``ne``, ``mixed``, … are non-language),
every metric is defined for every input, and nothing depends on which language is called what.

Metrics and sources (formulas exactly as in methods.md §4.2; ``N`` = counted tokens, ``P`` = switch
points between consecutive counted tokens, ``max t`` = count of the most frequent language):

* **S-index** — Absar, RESOURCEFUL-2025 (author's code): ``lam·tanh(mu·P)·ln(N / max t)``, mu = 0.5,
  lam = 1.
* **CMI** — Das & Gambäck 2014: ``100·(1 − max t / N)``.
* **Cu** (utterance) and **Cc** (corpus, with the inter-utterance switch δ and the 5/6 weight on the
  number of mixed utterances) — Gambäck & Das, LREC 2016, as in Gambäck's own code. Absar's "CS
  index" ``(0.5·(N − max t) + 0.5·P) / N`` is ``Cu / 100``.
* **M-index**, **language entropy**, **I-index**, **burstiness**, **memory**, **span entropy** —
  Guzmán et al. 2016/2017 (their ``metrics.py``); **SPF** — Pratapa et al., ACL 2018 (= I-index here).

Choices where the sources diverge (methods.md §4.1–4.2, "Known implementation divergences"):

* Token set: by default only language tags are counted; non-language tokens are dropped before every
  metric, so they neither create nor break a switch or a span (Gambäck's and Guzmán's scripts).
  ``languages=`` restricts the language tags further. ``mode="absar2025"`` counts every tag, ``other``
  included, as Absar's script does, and ``bos_eos_offset=2`` adds the 2 that script adds to N (its
  very first utterance excepted: pass a per-utterance array to :func:`corpus_metrics` to reproduce it).
* M-index: k = number of languages present in the utterance (in the corpus for the corpus value).
* Burstiness: population σ and all spans by default (Guzmán's ``metrics.py``); ``ddof=1`` gives
  ``cs_metrics``' sample σ, ``drop_last_span=True`` the ``[:-1]`` variant. Memory is the correlation of
  consecutive span lengths with population σ, as the §4.2 formula states.
* Matrix-language ties (Cc's δ): the previous utterance's matrix language is kept (Gambäck's rule).

Undefined cases: with N = 0 every metric is 0 (Cu and CMI by their own definition); one language gives
0 for S, CMI, Cu, M, LE, I, SPF; I and SPF are 0 with fewer than 2 counted tokens. Burstiness is NaN
with fewer than 2 spans (after ``drop_last_span``; or with ``n − ddof < 1``), memory NaN with fewer
than 3 spans or when either span-length series is constant (zero σ). Corpus means skip NaN.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from itertools import groupby

import numpy as np

from lingotune.language.codemix_vector import (
    EncodedTags,
    counted_tags,
    encode_tags,
    inter_utterance_switches,
    per_utterance_arrays,
)

__all__ = ["METRICS", "CorpusMetrics", "EncodedTags", "corpus_metrics", "cc_index", "encode_tags", "s_index",
           "utterance_metrics"]

METRICS = ("s_index", "cmi", "cu", "m_index", "lang_entropy", "i_index", "spf", "burstiness", "memory",
           "span_entropy")
COUNTS = ("tokens", "language_tokens", "languages", "switch_points", "spans", "matrix_count")


def _counted(tags: Sequence[str], mode: str, languages: Collection[str] | None) -> list[str]:
    vocab = sorted(set(tags))
    keep = dict(zip(vocab, counted_tags(vocab, mode, languages).tolist(), strict=True))
    return [t for t in tags if keep[t]]


def _std(values: Sequence[float], ddof: int = 0) -> float:
    mean = sum(values) / len(values)
    return math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - ddof))


def s_index(tags: Sequence[str], lang_tags: Collection[str] | None = None, mu: float = 0.5, lam: float = 1.0,
            count_nonlang: bool = False, bos_eos_offset: int = 0) -> float:
    """Absar's S-index of one utterance (methods.md §4.1). ``count_nonlang=True`` counts every tag as a
    language (Absar's code, with ``bos_eos_offset=2`` for its N + 2); ``lang_tags`` restricts languages."""
    return utterance_metrics(tags, mode="absar2025" if count_nonlang else "languages", languages=lang_tags, mu=mu,
                             lam=lam, bos_eos_offset=bos_eos_offset)["s_index"]


def utterance_metrics(tags: Sequence[str], *, mode: str = "languages", languages: Collection[str] | None = None,
                      mu: float = 0.5, lam: float = 1.0, ddof: int = 0, drop_last_span: bool = False,
                      bos_eos_offset: int = 0) -> dict[str, float]:
    """Every metric of one utterance, in plain Python (the reference :func:`corpus_metrics` is tested
    against). Keys: :data:`METRICS` and the counts :data:`COUNTS`."""
    seq = _counted(tags, mode, languages)
    n = len(seq)
    counts = Counter(seq)
    top = max(counts.values(), default=0)
    k = len(counts)
    switches = sum(a != b for a, b in zip(seq, seq[1:], strict=False))
    spans = [len(list(run)) for _, run in groupby(seq)]
    out: dict[str, float] = {"tokens": len(tags), "language_tokens": n, "languages": k, "switch_points": switches,
                             "spans": len(spans), "matrix_count": top}
    out["s_index"] = lam * math.tanh(mu * switches) * math.log((n + bos_eos_offset) / top) if top else 0.0
    out["cmi"] = 100.0 * (1 - top / n) if n else 0.0
    out["cu"] = 100.0 * (n - top + switches) / (2 * n) if n else 0.0
    squares = sum(c * c for c in counts.values())
    out["m_index"] = (n * n - squares) / ((k - 1) * squares) if k > 1 else 0.0
    out["lang_entropy"] = 0.0 - sum(c / n * math.log2(c / n) for c in counts.values()) if k > 1 else 0.0
    out["i_index"] = out["spf"] = switches / (n - 1) if n > 1 else 0.0
    used = spans[:-1] if drop_last_span else spans
    if len(used) >= 2 and len(used) - ddof >= 1:
        sd, mean = _std(used, ddof), sum(used) / len(used)
        out["burstiness"] = (sd - mean) / (sd + mean)
    else:
        out["burstiness"] = math.nan
    out["memory"] = math.nan
    if len(spans) >= 3:
        first, second = spans[:-1], spans[1:]
        sd1, sd2 = _std(first), _std(second)
        if sd1 > 0 and sd2 > 0:
            m1, m2 = sum(first) / len(first), sum(second) / len(second)
            cov = sum((a - m1) * (b - m2) for a, b in zip(first, second, strict=True)) / len(first)
            out["memory"] = cov / (sd1 * sd2)
    lengths = Counter(spans)
    out["span_entropy"] = 0.0 - sum(c / len(spans) * math.log2(c / len(spans)) for c in lengths.values())
    return out


def cc_index(cu: np.ndarray, delta: np.ndarray) -> float:
    """Gambäck & Das (2016) corpus index from per-utterance Cu (0–100) and δ (0/1), in utterance order:
    ``100/U · [½ Σ_{Cu>0} (2·Cu/100 + δ) + 5/6 · #{Cu>0}]`` (Gambäck's code: 1 − (max t − P)/N = 2·Cu/100)."""
    if len(cu) == 0:
        return 0.0
    mixed = cu > 0
    return float(100.0 / len(cu) * (0.5 * (2 * cu[mixed] / 100.0 + delta[mixed]).sum() + 5 / 6 * mixed.sum()))


@dataclass
class CorpusMetrics:
    """Per-utterance arrays (``per_utterance[name]``, one value per utterance, input order), the
    corpus summary, and the tags that were counted as languages."""

    per_utterance: dict[str, np.ndarray]
    summary: dict[str, float]
    languages: tuple[str, ...] = field(default=())


def _mean(values: np.ndarray) -> float:
    defined = values[~np.isnan(values)]
    return float(defined.mean()) if len(defined) else math.nan


def corpus_metrics(utterances: Sequence[Sequence[str]] | EncodedTags, *, mode: str = "languages",
                   languages: Collection[str] | None = None, mu: float = 0.5, lam: float = 1.0, ddof: int = 0,
                   drop_last_span: bool = False, bos_eos_offset: int | Sequence[int] | np.ndarray = 0,
                   ) -> CorpusMetrics:
    """Every metric of every utterance at once (vectorised; same options as :func:`utterance_metrics`,
    ``bos_eos_offset`` may be one value per utterance), plus the corpus summary:

    ``utterances``, ``tokens``, ``language_tokens``; ``mean_<metric>`` for each of :data:`METRICS` (NaN
    skipped; ``defined_burstiness``/``defined_memory`` count the utterances where they are defined);
    ``switched_share`` (utterances with a switch point, = Cu > 0); ``mean_cu_mixed``; ``cc`` and
    ``inter_utterance_switches`` (Σδ); and over all counted tokens of the corpus: ``languages`` (k),
    ``m_index``, ``lang_entropy``, ``i_index`` (ΣP / Σ(N − 1)).
    """
    enc = utterances if isinstance(utterances, EncodedTags) else encode_tags(utterances)
    keep = counted_tags(enc.vocab, mode, languages)
    offset = np.asarray(bos_eos_offset, dtype=np.int64)
    if offset.ndim and offset.shape != (enc.n_utterances,):
        raise ValueError(f"bos_eos_offset: expected one value or {enc.n_utterances}, got shape {offset.shape}")
    arrays = per_utterance_arrays(enc, keep, mu=mu, lam=lam, ddof=ddof, drop_last_span=drop_last_span,
                                  bos_eos_offset=offset)
    counts = arrays.pop("counts")
    delta = inter_utterance_switches(counts)
    arrays["inter_switch"] = delta
    n_utt = enc.n_utterances
    totals = counts.sum(axis=0)
    n_lang = int(totals.sum())
    k = int((totals > 0).sum())
    squares = int((totals.astype(np.int64) ** 2).sum())
    p = totals[totals > 0] / n_lang if n_lang else np.zeros(0)
    mixed = arrays["cu"] > 0
    pairs = int(np.maximum(arrays["language_tokens"] - 1, 0).sum())
    summary: dict[str, float] = {
        "utterances": n_utt, "tokens": int(enc.offsets[-1]), "language_tokens": n_lang,
        **{f"mean_{name}": _mean(arrays[name]) for name in METRICS},
        "defined_burstiness": int((~np.isnan(arrays["burstiness"])).sum()),
        "defined_memory": int((~np.isnan(arrays["memory"])).sum()),
        "switched_share": float((arrays["switch_points"] > 0).mean()) if n_utt else math.nan,
        "mean_cu_mixed": _mean(arrays["cu"][mixed]),
        "cc": cc_index(arrays["cu"], delta),
        "inter_utterance_switches": int(delta.sum()),
        "languages": k,
        "m_index": (n_lang * n_lang - squares) / ((k - 1) * squares) if k > 1 else 0.0,
        "lang_entropy": float(-(p * np.log2(p)).sum()) if k > 1 else 0.0,
        "i_index": int(arrays["switch_points"].sum()) / pairs if pairs else 0.0,
    }
    counted = tuple(t for t, kept in zip(enc.vocab, keep.tolist(), strict=True) if kept)
    return CorpusMetrics(arrays, summary, counted)
