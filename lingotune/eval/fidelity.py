"""Answer-language fidelity: did the model answer in the target language?

Detection is script-first, lingua second (lingua-language-detector, Pemistahl; 75 languages):

1. Count the letters of each Unicode script in the text. A script that belongs to exactly one language
   decides on its own (Thai -> th, Hangul -> ko, kana -> ja, Hebrew -> he, Greek -> el, Gujarati -> gu,
   ...). Scripts lingua does not model at all (Lao, Khmer, Myanmar, Sinhala, Kannada, Malayalam, Oriya,
   Tibetan, Ethiopic) map to their dominant language, so such targets can still be scored.
2. Shared scripts (Latin, Cyrillic, Arabic, Devanagari, Han) ask lingua restricted to the languages of
   that script: this removes cross-script confusions and makes each detector cheaper.
3. Texts with too little evidence (fewer than ``min_letters`` letters, or fewer than ``min_words`` words
   for space-delimited scripts) return None rather than a guess: a bare name or number such as
   "Barcelona" or "1945" is the same in many languages, and guessing would bias the fidelity rate.

Detectors are built lazily, once per script, with preloaded models (lingua's lazy loading loads the same
models on first use anyway, sequentially and slower). The first Latin-script call costs 3-7 s and ~0.9 GB
(all Latin-script n-gram models; Cyrillic ~0.9 s, Arabic ~0.4 s, others ~0); then ~2 ms per paragraph,
<0.5 ms per short answer, and script-decided languages need no model at all.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from functools import cache, lru_cache
from typing import Any

from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder

__all__ = [
    "canonical_language",
    "detect_language",
    "language_matches",
    "fidelity_scores",
    "summarize_fidelity",
]

DEFAULT_MIN_LETTERS = 12
DEFAULT_MIN_WORDS = 3

# ISO 639-3 -> 639-1 for lingua's 75 languages, plus aliases lingua's table does not cover.
_ISO3_TO_1: dict[str, str] = {
    lang.iso_code_639_3.name.lower(): lang.iso_code_639_1.name.lower() for lang in Language.all()
}
_ALIASES: dict[str, str] = {
    # ISO 639-2/B (bibliographic) codes
    "alb": "sq", "arm": "hy", "baq": "eu", "bur": "my", "chi": "zh", "cze": "cs", "dut": "nl",
    "fre": "fr", "geo": "ka", "ger": "de", "gre": "el", "ice": "is", "mac": "mk", "mao": "mi",
    "may": "ms", "per": "fa", "rum": "ro", "slo": "sk", "tib": "bo", "wel": "cy",
    # individual-language codes used by FLORES-200/NLLB (e.g. "arb_Arab") for a macrolanguage
    "cmn": "zh", "arb": "ar", "pes": "fa", "zsm": "ms", "ekk": "et", "lvs": "lv", "khk": "mn",
    "npi": "ne", "swh": "sw", "uzn": "uz", "azj": "az", "plt": "mg", "gaz": "om", "als": "sq",
    "ory": "or", "pbt": "ps", "ydd": "yi", "nob": "nb", "nno": "nn", "nor": "no", "fil": "tl",
    # deprecated 639-1 codes
    "iw": "he", "in": "id", "ji": "yi", "jw": "jv", "mo": "ro",
    # 639-3 of languages lingua lacks but that we detect by script
    "lao": "lo", "khm": "km", "mya": "my", "sin": "si", "kan": "kn", "mal": "ml", "ori": "or",
    "bod": "bo", "amh": "am", "nep": "ne",
}  # fmt: skip
# A macrolanguage target accepts its members (lingua reports Norwegian as nb or nn).
_MACRO: dict[str, frozenset[str]] = {"no": frozenset({"nb", "nn"}), "sh": frozenset({"sr", "hr", "bs"})}

# Script (first word of the Unicode character name) -> languages it can indicate.
_SCRIPT_LANGS: dict[str, tuple[str, ...]] = {
    "THAI": ("th",), "HANGUL": ("ko",), "KANA": ("ja",), "HEBREW": ("he",), "GREEK": ("el",),
    "GUJARATI": ("gu",), "TAMIL": ("ta",), "TELUGU": ("te",), "GURMUKHI": ("pa",), "BENGALI": ("bn",),
    "GEORGIAN": ("ka",), "ARMENIAN": ("hy",),
    # not modelled by lingua: dominant language of the script
    "LAO": ("lo",), "KHMER": ("km",), "MYANMAR": ("my",), "SINHALA": ("si",), "KANNADA": ("kn",),
    "MALAYALAM": ("ml",), "ORIYA": ("or",), "TIBETAN": ("bo",), "ETHIOPIC": ("am",),
    # shared scripts: lingua decides among that script's languages
    "HAN": ("zh", "ja"), "DEVANAGARI": ("hi", "mr"), "ARABIC": ("ar", "fa", "ur"),
    "CYRILLIC": ("be", "bg", "kk", "mk", "mn", "ru", "sr", "uk"), "LATIN": (),
}  # fmt: skip
_NAME_TO_SCRIPT = {"CJK": "HAN", "IDEOGRAPHIC": "HAN", "HIRAGANA": "KANA", "KATAKANA": "KANA",
                   "KATAKANA-HIRAGANA": "KANA"}  # fmt: skip
_SCRIPT_WEIGHT = {"HAN": 3, "KANA": 3, "HANGUL": 2}
# Scripts written without spaces: the word-count threshold does not apply.
_SPACELESS = frozenset({"HAN", "KANA", "THAI", "LAO", "KHMER", "MYANMAR", "TIBETAN"})


def canonical_language(code: str | None) -> str | None:
    """Lowercase primary subtag as ISO 639-1 where one exists: "zh-Hans" -> "zh", "spa" -> "es",
    "spa_Latn" -> "es", "ger" -> "de", "ES" -> "es". Codes we cannot map are returned lowercased."""
    if not code or not code.strip():
        return None
    primary = re.split(r"[-_\s]", code.strip().lower())[0]
    if not primary:
        return None
    return _ALIASES.get(primary) or _ISO3_TO_1.get(primary) or primary


def language_matches(detected: str | None, target: str | None) -> bool:
    """True if ``detected`` is the target language (code-format agnostic; "no" accepts nb/nn).
    None on either side, or an unknown target, never matches."""
    d, t = canonical_language(detected), canonical_language(target)
    if not d or not t:
        return False
    return d == t or d in _MACRO.get(t, ()) or t in _MACRO.get(d, ())


@lru_cache(maxsize=8192)
def _script_of(ch: str) -> str | None:
    name = unicodedata.name(ch, "")
    for prefix in ("HALFWIDTH ", "FULLWIDTH "):
        name = name.removeprefix(prefix)
    word = name.split(" ", 1)[0]
    word = _NAME_TO_SCRIPT.get(word, word)
    return word if word in _SCRIPT_LANGS else None


def _script_profile(text: str) -> tuple[Counter[str], int, int]:
    """(weighted letters per known script, weighted letter total, words containing a letter).

    A Han/kana character carries about as much as a short word and a Hangul block a syllable, so they
    weigh 3 and 2 letters: otherwise "Internet2是一个由…的美国计算机网络联盟" style Chinese with a few
    English names would count as Latin-dominant, and a 6-character Chinese sentence as "too short".
    """
    counts: Counter[str] = Counter()
    n_letters = 0
    for ch in text:
        if unicodedata.category(ch).startswith("L"):
            script = _script_of(ch)
            weight = _SCRIPT_WEIGHT.get(script, 1) if script else 1
            n_letters += weight
            if script is not None:
                counts[script] += weight
    n_words = sum(1 for w in text.split() if any(c.isalpha() for c in w))
    return counts, n_letters, n_words


@cache
def _detector(script: str, low_accuracy: bool) -> LanguageDetector:
    if script == "LATIN":
        builder = LanguageDetectorBuilder.from_all_languages_with_latin_script()
    else:
        builder = LanguageDetectorBuilder.from_iso_codes_639_1(
            *(IsoCode639_1.from_str(c) for c in _SCRIPT_LANGS[script])
        )
    if low_accuracy:
        builder = builder.with_low_accuracy_mode()
    return builder.with_preloaded_language_models().build()


def detect_language(
    text: str | None,
    *,
    min_letters: int = DEFAULT_MIN_LETTERS,
    min_words: int = DEFAULT_MIN_WORDS,
    low_accuracy: bool = False,
) -> str | None:
    """ISO 639-1 code (lowercase) of ``text``'s language, or None when there is too little evidence.

    "Too short": fewer than ``min_letters`` letters (Unicode category L*; a Han/kana character counts as
    3 letters, a Hangul syllable as 2), or, for space-delimited scripts, fewer than ``min_words`` words.
    The dominant script (by weighted letters) picks the candidate set; kana anywhere makes Han+kana text
    Japanese. ``low_accuracy`` uses lingua's trigram-only mode: ~0.3 s and ~75 MB instead of 3-7 s and
    ~0.9 GB for the Latin-script models, but clearly worse on short answers.
    """
    if not text:
        return None
    counts, n_letters, n_words = _script_profile(text)
    if n_letters < min_letters or not counts:
        return None
    if counts.get("KANA"):
        counts["KANA"] += counts.pop("HAN", 0)
    script = counts.most_common(1)[0][0]
    if script not in _SPACELESS and n_words < min_words:
        return None
    candidates = _SCRIPT_LANGS[script]
    if len(candidates) == 1:
        return candidates[0]
    found = _detector(script, low_accuracy).detect_language_of(text)
    return found.iso_code_639_1.name.lower() if found is not None else None


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
