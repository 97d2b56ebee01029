"""Vectorised kernels behind :func:`lingotune.language.codemix_metrics.corpus_metrics`.

A corpus is one flat array of tag ids plus utterance offsets (:class:`EncodedTags`); every per-utterance
quantity is computed at once with numpy (``bincount`` over utterance ids and over (utterance, language)
pairs, run starts from ``!=`` on shifted arrays), with no Python loop over tokens or utterances. The
formulas, their sources and the choices for undefined cases are documented in
:mod:`lingotune.language.codemix_metrics`; :func:`lingotune.language.codemix_metrics.utterance_metrics`
is the plain-Python reference the tests compare these kernels against.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from itertools import chain

import numpy as np

from lingotune.language.tagsets import is_language_tag

MODES = ("languages", "absar2025")


@dataclass(frozen=True)
class EncodedTags:
    """Tags of many utterances: ``ids[offsets[i]:offsets[i + 1]]`` are utterance i's, indices into ``vocab``."""

    ids: np.ndarray
    offsets: np.ndarray
    vocab: tuple[str, ...]

    @property
    def n_utterances(self) -> int:
        return len(self.offsets) - 1


def encode_tags(tag_lists: Sequence[Sequence[str]]) -> EncodedTags:
    """Flatten lists of tags into int32 ids (vocabulary in sorted order) and int64 utterance offsets."""
    lengths = np.fromiter(map(len, tag_lists), dtype=np.int64, count=len(tag_lists))
    offsets = np.zeros(len(tag_lists) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = list(chain.from_iterable(tag_lists))
    vocab = tuple(sorted(set(flat)))
    index = {tag: i for i, tag in enumerate(vocab)}
    ids = np.fromiter(map(index.__getitem__, flat), dtype=np.int32, count=len(flat))
    return EncodedTags(ids, offsets, vocab)


def counted_tags(vocab: Sequence[str], mode: str, languages: Collection[str] | None) -> np.ndarray:
    """Boolean mask over ``vocab``: the tags the metrics count as languages."""
    if mode not in MODES:
        raise ValueError(f"mode {mode!r}: expected one of {MODES}")
    if mode == "absar2025":
        return np.ones(len(vocab), dtype=bool)
    return np.array([is_language_tag(t) and (languages is None or t in languages) for t in vocab], dtype=bool)


def _div(num: np.ndarray, den: np.ndarray, fill: float) -> np.ndarray:
    """num / den where den != 0, ``fill`` elsewhere, without floating-point warnings."""
    num = np.asarray(num, dtype=np.float64)
    out = np.full(np.broadcast(num, den).shape, fill, dtype=np.float64)
    return np.divide(num, den, out=out, where=np.asarray(den) != 0)


def _group_sum(groups: np.ndarray, weights: np.ndarray, size: int) -> np.ndarray:
    return np.bincount(groups, weights=weights, minlength=size)


def per_utterance_arrays(enc: EncodedTags, keep_vocab: np.ndarray, *, mu: float, lam: float, ddof: int,
                         drop_last_span: bool, bos_eos_offset: int | np.ndarray) -> dict[str, np.ndarray]:
    """Every per-utterance metric, plus ``counts`` (utterances × counted tags) and ``tags``, their names."""
    n_utt = enc.n_utterances
    lengths = np.diff(enc.offsets)
    utt_of_token = np.repeat(np.arange(n_utt, dtype=np.int64), lengths)
    remap = np.cumsum(keep_vocab) - 1
    keep = keep_vocab[enc.ids] if len(enc.vocab) else np.zeros(0, dtype=bool)
    lang = remap[enc.ids[keep]]
    utt = utt_of_token[keep]
    n_lang = int(keep_vocab.sum())

    counts = np.bincount(utt * n_lang + lang, minlength=n_utt * n_lang).reshape(n_utt, n_lang)
    total = counts.sum(axis=1)
    matrix = counts.max(axis=1) if n_lang else np.zeros(n_utt, dtype=np.int64)
    k = (counts > 0).sum(axis=1)

    same_utt = utt[1:] == utt[:-1]
    changed = lang[1:] != lang[:-1]
    switches = np.bincount(utt[1:][changed & same_utt], minlength=n_utt)

    # S-index (Absar 2025), CMI (Das & Gambäck 2014), Cu (Gambäck & Das 2016)
    n_eff = total + np.asarray(bos_eos_offset, dtype=np.int64)
    ratio = _div(n_eff, matrix, 1.0)
    s_index = lam * np.tanh(mu * switches) * np.log(ratio, out=np.zeros(n_utt), where=ratio > 0)
    cmi = 100.0 * (1.0 - _div(matrix, total, 1.0))
    cu = 100.0 * _div(total - matrix + switches, 2 * total, 0.0)

    # M-index and language entropy (Guzmán et al.): from integer counts, so M is exact for balanced counts
    square_sum = (counts.astype(np.int64) ** 2).sum(axis=1)
    m_index = _div(total.astype(np.int64) ** 2 - square_sum, (k - 1) * square_sum, 0.0)
    p = _div(counts, total[:, None], 0.0)
    entropy = 0.0 - (p * np.log2(np.where(p > 0, p, 1.0))).sum(axis=1)
    i_index = _div(switches, np.maximum(total - 1, 0), 0.0)

    # spans: maximal same-language runs of the counted tokens
    starts_mask = np.ones(len(lang), dtype=bool)
    starts_mask[1:] = changed | ~same_utt
    starts = np.flatnonzero(starts_mask)
    tau = np.diff(np.append(starts, len(lang))).astype(np.float64)
    span_utt = utt[starts]
    n_spans = np.bincount(span_utt, minlength=n_utt)
    burst = _burstiness(tau, span_utt, n_utt, ddof, drop_last_span)
    memory = _memory(tau, span_utt, n_utt)
    span_entropy = _span_entropy(tau.astype(np.int64), span_utt, n_spans)

    return {"tokens": lengths, "language_tokens": total, "languages": k, "switch_points": switches,
            "spans": n_spans, "matrix_count": matrix, "s_index": s_index, "cmi": cmi, "cu": cu,
            "m_index": m_index, "lang_entropy": entropy, "i_index": i_index, "spf": i_index.copy(),
            "burstiness": burst, "memory": memory, "span_entropy": span_entropy, "counts": counts}


def _burstiness(tau: np.ndarray, span_utt: np.ndarray, n_utt: int, ddof: int, drop_last_span: bool) -> np.ndarray:
    if drop_last_span:
        last = np.ones(len(tau), dtype=bool)
        last[:-1] = span_utt[1:] != span_utt[:-1]
        tau, span_utt = tau[~last], span_utt[~last]
    n = np.bincount(span_utt, minlength=n_utt)
    mean = _div(_group_sum(span_utt, tau, n_utt), n, 0.0)
    dev = tau - mean[span_utt]
    sd = np.sqrt(_div(_group_sum(span_utt, dev * dev, n_utt), n - ddof, 0.0))
    burst = _div(sd - mean, sd + mean, np.nan)
    burst[(n < 2) | (n - ddof < 1)] = np.nan
    return burst


def _memory(tau: np.ndarray, span_utt: np.ndarray, n_utt: int) -> np.ndarray:
    paired = span_utt[1:] == span_utt[:-1]
    x, y, pair_utt = tau[:-1][paired], tau[1:][paired], span_utt[1:][paired]
    n = np.bincount(pair_utt, minlength=n_utt)
    dx = x - _div(_group_sum(pair_utt, x, n_utt), n, 0.0)[pair_utt]
    dy = y - _div(_group_sum(pair_utt, y, n_utt), n, 0.0)[pair_utt]
    var_x = _div(_group_sum(pair_utt, dx * dx, n_utt), n, 0.0)
    sd = np.sqrt(var_x * _div(_group_sum(pair_utt, dy * dy, n_utt), n, 0.0))
    memory = _div(_div(_group_sum(pair_utt, dx * dy, n_utt), n, 0.0), sd, np.nan)
    memory[n < 2] = np.nan
    return memory


def _span_entropy(tau: np.ndarray, span_utt: np.ndarray, n_spans: np.ndarray) -> np.ndarray:
    n_utt = len(n_spans)
    if len(tau) == 0:
        return np.zeros(n_utt)
    keys = np.sort(span_utt * (int(tau.max()) + 1) + tau)
    first = np.ones(len(keys), dtype=bool)
    first[1:] = keys[1:] != keys[:-1]
    group_start = np.flatnonzero(first)
    group_size = np.diff(np.append(group_start, len(keys)))
    group_utt = keys[group_start] // (int(tau.max()) + 1)
    p = group_size / n_spans[group_utt]
    return 0.0 - _group_sum(group_utt, p * np.log2(p), n_utt)


def inter_utterance_switches(counts: np.ndarray) -> np.ndarray:
    """δ of Gambäck & Das (2016): 1 where an utterance's matrix language differs from the previous one's.

    An utterance whose most frequent language is tied (or that has no language token) takes the previous
    utterance's matrix language (Gambäck's tie rule), so its δ is 0 and it passes that language on;
    the first utterance with a matrix language has δ = 0. Ties are never broken by tag order, so the
    result does not change when languages are renamed.
    """
    n_utt = counts.shape[0]
    if counts.shape[1] == 0:
        return np.zeros(n_utt, dtype=np.int64)
    top = counts.max(axis=1)
    unique = ((counts == top[:, None]).sum(axis=1) == 1) & (top > 0)
    argmax = counts.argmax(axis=1)
    last_defined = np.maximum.accumulate(np.where(unique, np.arange(n_utt), -1))
    previous = np.concatenate(([-1], last_defined[:-1]))
    return (unique & (previous >= 0) & (argmax != argmax[np.maximum(previous, 0)])).astype(np.int64)
