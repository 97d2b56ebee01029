"""Translation metrics: corpus chrF and BLEU via sacrebleu (Post 2018), both on the 0-100 scale.

chrF (Popovic 2015; sacrebleu defaults: char n-gram order 6, no word n-grams, beta 2) is our primary MT
metric: it needs no tokeniser, so it is comparable across the many target languages we adapt to. BLEU
is reported for continuity with the literature; its tokeniser is chosen per target language from what
sacrebleu ships WITHOUT extra downloads/dependencies:

* "zh" for Chinese (sacrebleu's Chinese tokeniser: splits CJK characters, keeps latin runs);
* "char" for Japanese, Thai, Lao, Khmer, Myanmar -- written without spaces. "ja-mecab" needs MeCab
  plus a dictionary and "flores101"/"flores200"/"spm" download a SentencePiece model, so we avoid them;
* "13a" (sacrebleu/WMT default, mteval-v13a) for everything else, including Korean (space-delimited;
  "ko-mecab" would again need MeCab).

Pass ``tokenize=`` to override (and report the tokeniser next to BLEU scores).
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from sacrebleu.metrics import BLEU, CHRF

from lingotune.eval.bootstrap import bootstrap_corpus_ci
from lingotune.language.codes import canonical_language

__all__ = [
    "chrf",
    "sentence_chrf",
    "bleu",
    "bleu_tokenizer",
    "chrf_metric",
    "bleu_metric",
    "chrf_ci",
    "bleu_ci",
    "corpus_metric",
    "CORPUS_METRICS",
    "REFERENCE_CHRF",
]

_CHAR_TOKENIZED = frozenset({"ja", "th", "lo", "km", "my"})


def bleu_tokenizer(language: str | None) -> str:
    """sacrebleu tokeniser name for a target language code (any format: "zh-Hans", "jpn", "tha")."""
    lang = canonical_language(language)
    if lang == "zh":
        return "zh"
    if lang in _CHAR_TOKENIZED:
        return "char"
    return "13a"


@cache
def chrf_metric() -> CHRF:
    """Shared sacrebleu ``CHRF()`` with default settings (reusable: it holds no per-call state)."""
    return CHRF()


@cache
def bleu_metric(tokenize: str = "13a") -> BLEU:
    """Shared sacrebleu ``BLEU(tokenize=...)``; sentence-level use would want ``effective_order``."""
    return BLEU(tokenize=tokenize)


REFERENCE_CHRF = "reference_chrf"  # chrF of open-ended answers against reference answers (a weak signal)
CORPUS_METRICS = frozenset({"chrf", "bleu", REFERENCE_CHRF})  # summary metrics computed on the corpus, not per item


def corpus_metric(name: str, language: str | None = None, tokenize: str | None = None) -> CHRF | BLEU | None:
    """The sacrebleu object behind a task summary's metric ``name`` ("chrf", "bleu"); None for other names.

    Reports recompute and compare corpus scores from the per-item records, so they must use the very
    metric the evaluation used: the same shared object and BLEU's tokeniser chosen by the same language."""
    if name in ("chrf", REFERENCE_CHRF):
        return chrf_metric()
    if name == "bleu":
        return bleu_metric(tokenize or bleu_tokenizer(language))
    return None


def _check_lengths(hypotheses: Sequence[str], references: Sequence[str]) -> tuple[list[str], list[str]]:
    if isinstance(hypotheses, str) or isinstance(references, str):
        raise TypeError("expected sequences of strings, got a bare string")
    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses vs {len(references)} references")
    return list(hypotheses), list(references)


def chrf(hypotheses: Sequence[str], references: Sequence[str]) -> float:
    """Corpus chrF (0-100) of hypotheses against one reference each (== sacrebleu ``CHRF().corpus_score``)."""
    hyps, refs = _check_lengths(hypotheses, references)
    return float(chrf_metric().corpus_score(hyps, [refs]).score)


# Lets bootstrap_corpus_ci(h, r, chrf) use sacrebleu's sufficient statistics instead of recomputing.
chrf.sacrebleu_metric = chrf_metric  # type: ignore[attr-defined]


def sentence_chrf(hypothesis: str, reference: str) -> float:
    """Per-item chrF (0-100) (== sacrebleu ``CHRF().sentence_score``); use for per-item tables/deltas."""
    return float(chrf_metric().sentence_score(hypothesis, [reference]).score)


def bleu(
    hypotheses: Sequence[str],
    references: Sequence[str],
    language: str | None = None,
    tokenize: str | None = None,
) -> float:
    """Corpus BLEU (0-100) with the language-appropriate sacrebleu tokeniser (see module docstring)."""
    hyps, refs = _check_lengths(hypotheses, references)
    return float(bleu_metric(tokenize or bleu_tokenizer(language)).corpus_score(hyps, [refs]).score)


def chrf_ci(
    hypotheses: Sequence[str],
    references: Sequence[str],
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> tuple[float, float, float]:
    """(chrF, low, high): item-resampling bootstrap CI of corpus chrF (fast sufficient-statistics path)."""
    hyps, refs = _check_lengths(hypotheses, references)
    return bootstrap_corpus_ci(hyps, refs, chrf_metric(), n_resamples=n_resamples, confidence=confidence,
                               seed=seed)  # fmt: skip


def bleu_ci(
    hypotheses: Sequence[str],
    references: Sequence[str],
    language: str | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
    tokenize: str | None = None,
) -> tuple[float, float, float]:
    """(BLEU, low, high): item-resampling bootstrap CI of corpus BLEU (fast sufficient-statistics path)."""
    hyps, refs = _check_lengths(hypotheses, references)
    metric = bleu_metric(tokenize or bleu_tokenizer(language))
    return bootstrap_corpus_ci(hyps, refs, metric, n_resamples=n_resamples, confidence=confidence, seed=seed)
