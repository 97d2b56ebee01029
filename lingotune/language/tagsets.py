"""Token-level language tags: one canonical tagset, and the mappings from the corpora's own.

Code-mixed corpora each tag tokens their own way: SentiMix Hinglish ``Hin/Eng/O/EMT``, LinCE and
SentiMix Spanglish ``lang1/lang2/other/ne/mixed/ambiguous/unk/fw``, L3Cube-HingLID ``HI/EN``. Metrics,
the tagger and the data builders work on one canonical set, so a new corpus needs a mapping, not code:

* a **language tag** is a language code as :func:`canonical_language` gives it (``hi``, ``en``, ``es``);
* a **non-language tag** is one of :data:`NON_LANGUAGE`: ``other`` (punctuation, numbers, URLs,
  @mentions, #hashtags, emoji: the "univ" tokens of methods.md §4), ``ne`` (named entity), ``mixed``
  (one word from two languages), ``ambiguous``, ``unk``, ``fw`` (a language outside the pair).

Metrics skip non-language tokens (methods.md §4.2: they neither create nor break a switch).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from lingotune.core.errors import LingotuneError
from lingotune.language.codes import canonical_language

NON_LANGUAGE: frozenset[str] = frozenset({"other", "ne", "mixed", "ambiguous", "unk", "fw"})


def is_language_tag(tag: str) -> bool:
    return tag not in NON_LANGUAGE


def _lince(lang1: str, lang2: str) -> dict[str, str]:
    return {"lang1": lang1, "lang2": lang2, "other": "other", "ne": "ne", "mixed": "mixed",
            "ambiguous": "ambiguous", "unk": "unk", "fw": "fw", "univ": "other"}


# Built-in mappings, by the name a user gives (``--tagset``). "lince" is LinCE's generic scheme: the
# user says which language is lang1 and lang2 (``lince:en,es``); the named ones fix the pair.
TAGSETS: dict[str, dict[str, str]] = {
    "sentimix_hinglish": {"Hin": "hi", "Eng": "en", "O": "other", "EMT": "other"},
    "sentimix_spanglish": _lince("en", "es"),
    "l3cube": {"HI": "hi", "EN": "en"},
    "canonical": {},
}


class TagsetError(LingotuneError):
    """A tagset name or mapping cannot be used."""


def resolve_tagset(spec: str | Mapping[str, str] | None) -> dict[str, str]:
    """A raw → canonical mapping from a built-in name (``sentimix_hinglish``), ``lince:L1,L2``, a
    comma list ``Hin=hi,Eng=en,O=other``, or a mapping. Unmapped raw tags that already are canonical
    (``en``, ``other``) map to themselves; anything else is reported by the reader."""
    if spec is None:
        return {}
    if isinstance(spec, Mapping):
        raw = dict(spec)
    elif spec in TAGSETS:
        raw = dict(TAGSETS[spec])
    elif spec.startswith("lince:"):
        pair = [p.strip() for p in spec.split(":", 1)[1].split(",")]
        if len(pair) != 2 or not all(pair):
            raise TagsetError(f"tagset {spec!r}: expected lince:LANG1,LANG2, e.g. lince:en,es")
        raw = _lince(pair[0], pair[1])
    elif "=" in spec:
        raw = {}
        for item in spec.split(","):
            key, sep, value = item.partition("=")
            if not sep or not key.strip() or not value.strip():
                raise TagsetError(f"tagset mapping {spec!r}: expected RAW=TAG pairs separated by commas, got {item!r}")
            raw[key.strip()] = value.strip()
    else:
        raise TagsetError(
            f"unknown tagset {spec!r}: expected one of {sorted(TAGSETS)}, lince:LANG1,LANG2, "
            "or a mapping such as Hin=hi,Eng=en,O=other"
        )
    return {key: canonical_tag(value, spec) for key, value in raw.items()}


def canonical_tag(tag: str, context: object = None) -> str:
    """``other``/``ne``/… unchanged, a language code canonicalised (``ENG`` → ``en``, ``spa`` → ``es``)."""
    lowered = tag.strip().lower()
    if lowered in NON_LANGUAGE:
        return lowered
    if lowered == "univ":
        return "other"
    code = canonical_language(lowered)
    if not code or not code.isalpha() or len(code) > 3:
        where = f" in {context!r}" if context else ""
        raise TagsetError(f"tag {tag!r}{where} is neither a language code nor one of {sorted(NON_LANGUAGE)}")
    return code


def map_tag(raw: str, mapping: Mapping[str, str]) -> str | None:
    """The canonical tag of ``raw`` under ``mapping``, or None when neither mapped nor canonical."""
    if raw in mapping:
        return mapping[raw]
    lowered = raw.lower()
    if lowered in NON_LANGUAGE:
        return lowered
    if not lowered.isalpha():
        return None
    if len(lowered) == 2:
        return lowered
    code = canonical_language(lowered)
    return code if len(lowered) == 3 and code != lowered and len(code or "") == 2 else None


def auto_tagset(raw_tags: Iterable[str], pair: tuple[str, str] | None = None) -> dict[str, str]:
    """The built-in mapping that covers every raw tag of a file (LinCE's ``lang1``/``lang2`` only when
    ``pair`` says which languages they are), else none: canonical tags pass unmapped and anything else
    is reported as unknown."""
    present = set(raw_tags)
    candidates = [TAGSETS["sentimix_hinglish"], TAGSETS["l3cube"]] + ([_lince(*pair)] if pair else [])
    for mapping in candidates:
        if all(tag in mapping or map_tag(tag, {}) is not None for tag in present) and present & set(mapping):
            return {key: canonical_tag(value) for key, value in mapping.items()}
    return {}
