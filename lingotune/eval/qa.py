"""Extractive-QA metrics (exact match and token F1) for XQuAD/MLQA-style evaluation.

English follows the official SQuAD v1.1 script (``evaluate-v1.1.py``, Rajpurkar et al. 2016), so English
numbers are comparable with every published SQuAD/XQuAD-en score. Every other language follows MLQA's
official script (``mlqa_evaluation_v1.py``, Lewis et al. 2020, github.com/facebookresearch/MLQA), which
is also what XQuAD papers use for non-English answers:

* punctuation = ``string.punctuation`` plus every Unicode character whose category starts with "P";
* language-specific article lists (es, de, vi, ar exactly as MLQA writes them; see ``_ARTICLES``);
* whitespace tokens, except Chinese, where MLQA's "mixed segmentation" makes every CJK character its own
  token while runs of Latin letters/digits stay whole tokens.

Extensions (documented deviations): mixed segmentation is also used for the other languages written
without spaces (ja, th, lo, km, my), with the per-character class widened from MLQA's ``[\\u4e00-\\u9fa5]``
to the CJK, kana, Thai, Lao, Khmer and Myanmar blocks (identical on ordinary zh text); any language code
MLQA does not know falls back to the generic rule (Unicode punctuation, no articles, whitespace tokens)
instead of MLQA's ``Exception('Unknown Language')``.
"""

from __future__ import annotations

import re
import string
import sys
import unicodedata
from collections import Counter
from collections.abc import Iterable

from lingotune.language.codes import canonical_language

__all__ = ["normalize_answer", "exact_match", "f1_score", "extract_answer", "tokenize_answer"]

# MLQA: PUNCT = {chr(i) for i in range(sys.maxunicode) if category(chr(i)).startswith('P')} | punctuation
_UNICODE_PUNCT: frozenset[str] = frozenset(
    {chr(i) for i in range(sys.maxunicode) if unicodedata.category(chr(i)).startswith("P")}
) | frozenset(string.punctuation)
_ASCII_PUNCT: frozenset[str] = frozenset(string.punctuation)  # SQuAD v1.1 (English) uses only these

# Article patterns copied from mlqa_evaluation_v1.py ``remove_articles`` (en is SQuAD's, identical).
# Notes on faithfulness:
# * vi: MLQA removes "của|là|cái|chiếc|những" (not "các"); we keep MLQA's list so scores stay comparable.
# * ar: MLQA uses re.sub('\sال^|ال', ' ', text). The first alternative can never match ('^' after
#   characters), so in practice EVERY occurrence of "ال" is replaced by a space, including inside words
#   (e.g. "سؤال" -> "سؤ "). That is a known quirk of the official script; we reproduce it on purpose
#   because it is applied to prediction and gold alike and published Arabic MLQA/XQuAD numbers include it.
_ARTICLES: dict[str, re.Pattern[str]] = {
    "en": re.compile(r"\b(a|an|the)\b"),
    "es": re.compile(r"\b(un|una|unos|unas|el|la|los|las)\b"),
    "de": re.compile(r"\b(ein|eine|einen|einem|eines|einer|der|die|das|den|dem|des)\b"),
    "vi": re.compile(r"\b(của|là|cái|chiếc|những)\b"),
    "ar": re.compile(r"\sال^|ال"),
}

# Languages written without spaces between words: F1 is computed over characters (mixed segmentation).
_CHAR_LEVEL_LANGS: frozenset[str] = frozenset({"zh", "ja", "th", "lo", "km", "my"})

# Characters that become single tokens under mixed segmentation. MLQA uses [\u4e00-\u9fa5] for zh; we add
# CJK Ext. A, the rest of the URO block, compatibility ideographs, kana, Thai, Lao, Myanmar and Khmer.
_SEGMENT_CHAR = re.compile(
    "[\u3040-\u30ff\u31f0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uff66-\uff9f"
    "\u0e00-\u0e7f\u0e80-\u0eff\u1000-\u109f\u1780-\u17ff\u19e0-\u19ff]"
)


def _lang_key(language: str | None) -> str:
    """Map any code ("zh-Hans", "spa", "es_ES", "ES", None) to the primary 639-1 subtag we key rules on."""
    return canonical_language(language) or ""


def _mixed_segmentation(text: str) -> list[str]:
    """MLQA's ``mixed_segmentation``: single tokens for CJK/Thai-like chars and punctuation, whitespace
    tokens for everything in between (so "iphone手机" -> ["iphone", "手", "机"])."""
    tokens: list[str] = []
    run: list[str] = []
    for ch in text:
        if _SEGMENT_CHAR.match(ch) or ch in _UNICODE_PUNCT:
            if run:
                tokens.extend("".join(run).split())
                run = []
            tokens.append(ch)
        else:
            run.append(ch)
    if run:
        tokens.extend("".join(run).split())
    return tokens


def normalize_answer(text: str, language: str = "en") -> str:
    """Normalise an answer string the way SQuAD (en) / MLQA (other languages) does before comparison.

    Steps, in the official order: lowercase -> remove punctuation -> remove articles -> tokenise
    (whitespace, or mixed segmentation for char-level languages) -> join tokens with single spaces.
    Unknown or empty language codes use the generic rule (Unicode punctuation, no articles, whitespace).
    """
    lang = _lang_key(language)
    punct = _ASCII_PUNCT if lang == "en" else _UNICODE_PUNCT
    text = "".join(ch for ch in (text or "").lower() if ch not in punct)
    pattern = _ARTICLES.get(lang)
    if pattern is not None:
        text = pattern.sub(" ", text)
    tokens = _mixed_segmentation(text) if lang in _CHAR_LEVEL_LANGS else text.split()
    return " ".join(t for t in tokens if t.strip())


def tokenize_answer(text: str, language: str = "en") -> list[str]:
    """Tokens used for F1: the normalised answer split on spaces (chars for zh/ja/th/lo/km/my)."""
    return normalize_answer(text, language).split()


def _as_list(golds: str | Iterable[str]) -> list[str]:
    return [golds] if isinstance(golds, str) else list(golds)


def _f1_single(pred_tokens: list[str], gold_tokens: list[str]) -> float:
    # SQuAD v1.1: 0 when nothing overlaps (this includes the case where both normalise to empty).
    common = Counter(pred_tokens) & Counter(gold_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(pred_tokens)
    recall = num_same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def exact_match(prediction: str, golds: str | Iterable[str], language: str = "en") -> float:
    """1.0 if the normalised prediction equals any normalised gold answer, else 0.0 (max over golds,
    as in SQuAD's ``metric_max_over_ground_truths``). No gold answers -> 0.0."""
    pred = normalize_answer(prediction, language)
    return float(any(pred == normalize_answer(g, language) for g in _as_list(golds)))


def f1_score(prediction: str, golds: str | Iterable[str], language: str = "en") -> float:
    """Bag-of-tokens F1 in [0, 1], maximised over gold answers (SQuAD v1.1 / MLQA). No golds -> 0.0."""
    pred_tokens = tokenize_answer(prediction, language)
    scores = [_f1_single(pred_tokens, tokenize_answer(g, language)) for g in _as_list(golds)]
    return max(scores, default=0.0)


_QUOTE_PAIRS: dict[str, str] = {
    '"': '"', "'": "'", "`": "`", "\u201c": "\u201d", "\u2018": "\u2019", "\u00ab": "\u00bb",
    "\u201e": "\u201c", "\u300c": "\u300d", "\u300e": "\u300f", "\u2039": "\u203a",
}


def extract_answer(generation: str | None) -> str:
    """Clean a free-form model generation into an answer span for scoring.

    Deliberately conservative, because every extra heuristic can silently change scores:
    take the first non-empty line (models tend to add explanations on following lines), strip
    whitespace, strip ONE pair of surrounding quotes, then drop a single trailing period / ideographic
    full stop. We do not cut at the first sentence (that would break "St. Louis" or "3.5") and we do
    not strip "Answer:" labels (they are language dependent); punctuation is removed by normalisation
    anyway, so the period rule only matters for display.
    """
    if not generation:
        return ""
    line = next((ln.strip() for ln in generation.splitlines() if ln.strip()), "")
    if len(line) >= 2 and _QUOTE_PAIRS.get(line[0]) == line[-1]:
        line = line[1:-1].strip()
    if line.endswith("\u3002") or (line.endswith(".") and not line.endswith("..")):
        line = line[:-1].rstrip()
    return line
