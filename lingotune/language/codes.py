"""Language codes: the one place a code is normalised or reduced to its primary language.

Recipes and data may say ``es``, ``spa``, ``es_ES``, ``spa_Latn`` (FLORES-200) or ``zh-Hans``; every
comparison, table lookup and rule in lingotune goes through ``canonical_language`` (primary subtag
as ISO 639-1 where one exists), and every stored tag through ``normalize_language`` (BCP-47 casing).
"""

from __future__ import annotations

import re

from lingua import Language

_LANGUAGE = re.compile(r"^([a-z]{2,3})(?:-([a-z]{4}))?(?:-([a-z]{2}|[0-9]{3}))?$", re.IGNORECASE)

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



def normalize_language(code: str) -> str | None:
    """Canonical casing (``pt-br`` → ``pt-BR``, ``zh-hans`` → ``zh-Hans``), or None when not a code.

    Any well-formed code is accepted: the toolkit must work for languages nobody listed in advance.
    """
    match = _LANGUAGE.match(code.strip().replace("_", "-")) if isinstance(code, str) else None
    if not match:
        return None
    lang, script, region = match.groups()
    parts = [lang.lower()] + ([script.title()] if script else []) + ([region.upper()] if region else [])
    return "-".join(parts)


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


def language_name(code: str, override: str | None = None) -> str:
    """English name of a language code, from lingua's table; the code itself when unknown."""
    if override:
        return override
    from lingua import IsoCode639_1

    try:
        return Language.from_iso_code_639_1(IsoCode639_1.from_str(canonical_language(code) or "")).name.title()
    except ValueError:
        return code
