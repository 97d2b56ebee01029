"""Which language is a text in? Script-first, lingua second; too little evidence gives None.

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

import unicodedata
from collections import Counter
from functools import cache, lru_cache

from lingua import IsoCode639_1, LanguageDetector, LanguageDetectorBuilder

__all__ = ["detect_language"]

DEFAULT_MIN_LETTERS = 12
DEFAULT_MIN_WORDS = 3

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


_loaded: set[tuple[str, bool]] = set()


@cache
def _detector(script: str, low_accuracy: bool) -> LanguageDetector:
    _loaded.add((script, low_accuracy))
    if script == "LATIN":
        builder = LanguageDetectorBuilder.from_all_languages_with_latin_script()
    else:
        builder = LanguageDetectorBuilder.from_iso_codes_639_1(
            *(IsoCode639_1.from_str(c) for c in _SCRIPT_LANGS[script])
        )
    if low_accuracy:
        builder = builder.with_low_accuracy_mode()
    return builder.with_preloaded_language_models().build()


def release_detectors() -> None:
    """Unload lingua's models (~0.9 GB for the Latin-script ones): a run frees them before each step, so a
    training step does not carry an evaluation's detectors; the next detection reloads them (a few
    seconds). lingua keeps its models in a process-wide cache that outlives the detector objects
    (measured: dropping the detector freed 63 of 938 MB), hence ``unload_language_models``."""
    for script, low_accuracy in list(_loaded):
        _detector(script, low_accuracy).unload_language_models()
    _loaded.clear()
    _detector.cache_clear()


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
