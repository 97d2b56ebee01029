"""From a lingotune language code to the code a translation model family expects.

Hand-written because transformers has no such mapping: every family keeps its own list and expects
the caller to spell a language exactly its way. NLLB wants FLORES-200 codes (``spa_Latn``,
``zho_Hant``, ``arb_Arab`` for Modern Standard Arabic), M2M100 bare ISO 639-1 codes (``es``, plus
quirks like ``ns`` for Northern Sotho), MADLAD-400 a ``<2es>`` / ``<2zh_Hant>`` token in front of the
text, and multi-target Marian models a ``>>spa<<`` / ``>>pt_br<<`` token. A misspelt code does not
fail there: the tokenizer maps it to ``<unk>`` or the model translates into some other language, so
the check has to happen here, against the codes the tokenizer actually has, before any request.

All functions are pure: they take the request and the model's codes, and either return the one
code that means that language (in the requested script, where the model distinguishes scripts) or
raise ``LingotuneError`` saying what the model has instead. A region (``pt-BR``) picks a regional
variant when the model has one and is otherwise dropped, since a region is not another language;
a script is never dropped, since ``zh-Hant`` answered in Simplified characters is a wrong answer.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass

from lingotune.core.errors import LingotuneError
from lingotune.language.codes import canonical_language, language_name, normalize_language

# ISO 639-1 -> 639-3 for every 639-1 language, since canonical_language knows only lingua's 75 and
# FLORES-200 / MADLAD name many more by their three letters (kas_Arab, "<2ks>" are both Kashmiri).
_ISO1_TO_3 = dict(pair.split(":") for pair in (
    "aa:aar ab:abk ae:ave af:afr ak:aka am:amh an:arg ar:ara as:asm av:ava ay:aym az:aze ba:bak be:bel "
    "bg:bul bi:bis bm:bam bn:ben bo:bod br:bre bs:bos ca:cat ce:che ch:cha co:cos cr:cre cs:ces cu:chu "
    "cv:chv cy:cym da:dan de:deu dv:div dz:dzo ee:ewe el:ell en:eng eo:epo es:spa et:est eu:eus fa:fas "
    "ff:ful fi:fin fj:fij fo:fao fr:fra fy:fry ga:gle gd:gla gl:glg gn:grn gu:guj gv:glv ha:hau he:heb "
    "hi:hin ho:hmo hr:hrv ht:hat hu:hun hy:hye hz:her ia:ina id:ind ie:ile ig:ibo ii:iii ik:ipk io:ido "
    "is:isl it:ita iu:iku ja:jpn jv:jav ka:kat kg:kon ki:kik kj:kua kk:kaz kl:kal km:khm kn:kan ko:kor "
    "kr:kau ks:kas ku:kur kv:kom kw:cor ky:kir la:lat lb:ltz lg:lug li:lim ln:lin lo:lao lt:lit lu:lub "
    "lv:lav mg:mlg mh:mah mi:mri mk:mkd ml:mal mn:mon mr:mar ms:msa mt:mlt my:mya na:nau nb:nob nd:nde "
    "ne:nep ng:ndo nl:nld nn:nno no:nor nr:nbl nv:nav ny:nya oc:oci oj:oji om:orm or:ori os:oss pa:pan "
    "pi:pli pl:pol ps:pus pt:por qu:que rm:roh rn:run ro:ron ru:rus rw:kin sa:san sc:srd sd:snd se:sme "
    "sg:sag si:sin sk:slk sl:slv sm:smo sn:sna so:som sq:sqi sr:srp ss:ssw st:sot su:sun sv:swe sw:swa "
    "ta:tam te:tel tg:tgk th:tha ti:tir tk:tuk tl:tgl tn:tsn to:ton tr:tur ts:tso tt:tat tw:twi ty:tah "
    "ug:uig uk:ukr ur:urd uz:uzb ve:ven vi:vie vo:vol wa:wln wo:wol xh:xho yi:yid yo:yor za:zha zh:zho "
    "zu:zul"
).split())
# Individual languages FLORES-200 uses for a macrolanguage, beyond those canonical_language knows.
_MEMBERS: dict[str, str] = {"kmr": "ku", "ayr": "ay"}
_ISO3_TO_1: dict[str, str] = {three: one for one, three in _ISO1_TO_3.items()} | _MEMBERS
# The script a language is written in when a request or a model code does not say: picks between
# zho_Hans and zho_Hant for "zh", and tells whether a script-less "<2sr>" can answer "sr-Latn".
_DEFAULT_SCRIPT: dict[str, str] = {
    "zh": "Hans", "sr": "Cyrl", "ks": "Arab", "pa": "Guru", "mn": "Cyrl", "uz": "Latn", "az": "Latn",
    "ms": "Latn", "sd": "Arab", "ku": "Latn", "bs": "Latn", "kk": "Cyrl", "ky": "Cyrl", "tg": "Cyrl",
    "tt": "Cyrl", "be": "Cyrl", "ru": "Cyrl", "uk": "Cyrl", "bg": "Cyrl", "mk": "Cyrl", "el": "Grek",
    "hi": "Deva", "mr": "Deva", "ne": "Deva", "bn": "Beng", "gu": "Gujr", "ta": "Taml", "te": "Telu",
    "kn": "Knda", "ml": "Mlym", "ar": "Arab", "fa": "Arab", "ur": "Arab", "ps": "Arab", "ug": "Arab",
    "he": "Hebr", "yi": "Hebr", "ja": "Jpan", "th": "Thai", "am": "Ethi", "ti": "Ethi", "ka": "Geor",
    "hy": "Armn", "si": "Sinh", "km": "Khmr", "lo": "Laoo", "my": "Mymr", "ace": "Latn", "bjn": "Latn",
    "knc": "Latn", "min": "Latn", "taq": "Latn",
}  # fmt: skip
# Chinese regions imply a script (zh-TW is Traditional) when the request gives none.
_REGION_SCRIPT: dict[tuple[str, str], str] = {
    ("zh", "TW"): "Hant", ("zh", "HK"): "Hant", ("zh", "MO"): "Hant",
    ("zh", "CN"): "Hans", ("zh", "SG"): "Hans", ("zh", "MY"): "Hans",
}  # fmt: skip
# Tried only when no code of the requested language exists: Norwegian is "no" in M2M100 and
# MADLAD but Bokmål ("nob_Latn") in FLORES-200.
_EQUIVALENT: dict[str, tuple[str, ...]] = {"no": ("nb",), "nb": ("no",)}
# Codes a family spells its own way (M2M100 calls Northern Sotho "ns", which is no ISO code).
_M2M_QUIRKS: dict[str, str] = {"ns": "nso"}
# ISO 639-5 group codes in Helsinki-NLP model names ("opus-mt-en-zle"): a group, not one language.
_OPUS_GROUPS = frozenset(
    "aav afa alv art bat bnt cau ccs cel cpf cpp cus dra esx euq fiu gem gmq gmw grk iir inc ine ira "
    "itc map mkh mul nic phi poz pqe pqw roa sal sem sit sla tai trk tut urj wen zle zls zlw zhx".split()
)

_FLORES = re.compile(r"^([a-z]{3})_([A-Z][a-z]{3})$")
_M2M = re.compile(r"^([a-z]{2,3})$")
_MADLAD = re.compile(r"^<2([a-z]{2,3})(?:_([A-Z][a-z]{3}))?(?:_([A-Z]{2}|[0-9]{3}))?>$")
_MARIAN = re.compile(r"^>>([a-z]{2,3})(?:_([A-Za-z]{4}))?(?:_([A-Za-z]{2}|[0-9]{3}))?<<$")


@dataclass(frozen=True)
class _Code:
    """One of a model's codes, read as a language tag: ``token`` is what the model gets."""

    token: str
    raw: str  # primary subtag as the model spells it ("arb", "cmn", "es")
    language: str  # canonical_language of it ("ar", "zh", "es")
    script: str | None
    region: str | None


@dataclass(frozen=True)
class LanguageRequest:
    """A lingotune code read as canonical primary language, script and region."""

    code: str
    raw: str
    language: str
    script: str | None
    region: str | None


def _canonical(primary: str) -> str:
    """canonical_language, completed for the 639-1 languages lingua does not know."""
    language = canonical_language(primary) or primary.lower()
    return _ISO3_TO_1.get(language, language)


def parse_request(code: str) -> LanguageRequest:
    """A lingotune code split into canonical language, script and region; malformed codes fail here,
    with the same message whichever family asked."""
    normalized = normalize_language(code) if isinstance(code, str) else None
    if normalized is None:
        raise LingotuneError(
            f"{code!r} is not a language code: expected ISO 639-1/-3 with optional script and region, "
            "like 'es', 'spa', 'zh-Hant', 'pt-BR' or 'spa_Latn'")
    parts = normalized.split("-")
    script = next((p for p in parts[1:] if len(p) == 4), None)
    region = next((p for p in parts[1:] if len(p) != 4), None)
    language = _canonical(parts[0])
    if script is None and region is not None:
        script = _REGION_SCRIPT.get((language, region))
    return LanguageRequest(normalized, parts[0], language, script, region)


def _codes(available: Iterable[str], pattern: re.Pattern[str], quirks: dict[str, str] | None = None) -> list[_Code]:
    codes = []
    for token in dict.fromkeys(available):  # keeps order, drops duplicates
        match = pattern.match(token) if isinstance(token, str) else None
        if not match:
            continue  # "<2translate>", "<2Latn>", "<2CA>", ordinary vocabulary
        raw, script, region = (match.groups() + (None, None))[:3]
        language = (quirks or {}).get(raw) or _canonical(raw)
        codes.append(_Code(token, raw, language, script.title() if script else None,
                           region.upper() if region else None))
    return codes


def _describe(code: str) -> str:
    name = language_name(code)
    return f"{code!r} ({name})" if name != code else repr(code)


def _close(request: LanguageRequest, codes: list[_Code], limit: int = 6) -> str:
    """What the model has, for the error message: all its codes when few, else the nearest in spelling
    (or a sample when none is near)."""
    if len(codes) <= 10:
        return "it has " + ", ".join(sorted(c.token for c in codes))
    scored = sorted(((max(difflib.SequenceMatcher(None, request.raw, c.raw).ratio(),
                          difflib.SequenceMatcher(None, request.language, c.language).ratio()), c.token)
                     for c in codes), key=lambda pair: (-pair[0], pair[1]))
    near = [token for score, token in scored if score >= 0.5][:limit]
    if near:
        return "closest: " + ", ".join(near)
    return "e.g. " + ", ".join(sorted(c.token for c in codes)[:limit])


def _choose(language: str, codes: list[_Code], what: str) -> str:
    """The model code for ``language``. Order of preference: the requested script exactly, else a
    script-less code when the language's usual script is the requested one; then the requested
    region, else the plain code; then the model's own spelling of the request (``cmn`` over ``zho``
    only when asked for ``cmn``)."""
    request = parse_request(language)
    if not codes:
        raise LingotuneError(f"the model has no {what} language codes at all")
    matches = [c for c in codes if c.language == request.language or c.raw == request.raw]  # or its own spelling
    if not matches:
        matches = [c for c in codes if c.language in _EQUIVALENT.get(request.language, ())]
    if not matches:
        raise LingotuneError(f"language {_describe(request.code)} is not among the model's {len(codes)} "
                             f"{what} codes ({_close(request, codes)})")
    usual = _DEFAULT_SCRIPT.get(request.language)
    wanted = request.script
    if wanted is not None:
        chosen = [c for c in matches if c.script == wanted]
        if not chosen and usual in (None, wanted):
            chosen = [c for c in matches if c.script is None]
        if not chosen:
            has = ", ".join(c.token for c in matches)
            raise LingotuneError(f"the model has no {wanted} script variant of {_describe(request.language)}; "
                                 f"it has {has}" + (f" (written in {usual})" if usual else ""))
    else:
        chosen = [c for c in matches if c.script is None]
        if not chosen:
            scripts = sorted({c.script for c in matches if c.script})
            if len(scripts) == 1:
                chosen = matches
            elif usual in scripts:
                chosen = [c for c in matches if c.script == usual]
            else:
                raise LingotuneError(f"{_describe(request.language)} comes in several scripts ("
                                     + ", ".join(c.token for c in matches) + "); say which, e.g. "
                                     f"'{request.language}-{scripts[0]}'")
    regional = [c for c in chosen if request.region is not None and c.region == request.region]
    plain = [c for c in chosen if c.region is None]
    if regional:
        chosen = regional
    elif plain:
        chosen = plain
    elif len({c.region for c in chosen}) > 1:
        raise LingotuneError(f"{_describe(request.code)} matches several regional variants ("
                             + ", ".join(c.token for c in chosen) + "); say which region")
    chosen.sort(key=lambda c: (c.raw != request.raw, c.token))
    return chosen[0].token


def flores_code(language: str, available: Iterable[str]) -> str:
    """NLLB's FLORES-200 code (``spa_Latn``) for a lingotune code, among the tokenizer's codes."""
    return _choose(language, _codes(available, _FLORES), "FLORES-200")


def m2m_code(language: str, available: Iterable[str]) -> str:
    """M2M100's code (``es``) for a lingotune code, among the tokenizer's ``lang_code_to_id`` keys."""
    return _choose(language, _codes(available, _M2M, _M2M_QUIRKS), "M2M100")


def madlad_prefix(language: str, vocab: Iterable[str]) -> str:
    """MADLAD-400's target token (``<2es>``, ``<2zh_Hant>``), which goes before the text with a space."""
    codes = _codes(vocab, _MADLAD)
    if not codes:
        raise LingotuneError("the tokenizer has no <2xx> language tokens: a T5 model that is not MADLAD-400 "
                             "cannot be told which language to translate into")
    return _choose(language, codes, "MADLAD <2xx>")


def marian_target_token(language: str, vocab: Iterable[str]) -> str | None:
    """The ``>>spa<<`` token a multi-target Marian model needs before the text, or None when the model
    has no such tokens (a single-pair model, whose target is fixed by its training)."""
    codes = _codes(vocab, _MARIAN)
    if not codes:
        return None
    return _choose(language, codes, "Marian >>xx<<")


def _marian_side(value: str | None) -> set[str] | None:
    """The languages one side of a Marian pair names (``en``, ``eng``, ``de_nl``), or None when it is
    unknown or a group (``ROMANCE``, ``zle``, ``mul``) whose members the name does not list."""
    if not value or not isinstance(value, str):
        return None
    languages = set()
    for part in re.split(r"[_+]", value.strip()):
        if re.fullmatch(r"[a-z]{2,3}", part):
            if part in _OPUS_GROUPS:
                return None
            languages.add(_canonical(part))
        elif not re.fullmatch(r"[A-Z][a-z]{3}|[A-Z]{2}", part):  # a script or region qualifies, a word is a group
            return None
    return languages or None


def marian_pair(name: str, source_lang: str | None = None,
                target_lang: str | None = None) -> tuple[set[str] | None, set[str] | None]:
    """The (source, target) languages of a Marian model as canonical codes, None for a side that is
    unknown: from the tokenizer's ``source_lang``/``target_lang`` when set, else from a Helsinki-NLP
    name like ``opus-mt-en-es`` or ``opus-mt-tc-big-en-zle``."""
    from_name: tuple[str | None, str | None] = (None, None)
    last = name.rstrip("/").rsplit("/", 1)[-1]
    if last.startswith("opus-mt-"):
        parts = last[len("opus-mt-"):].split("-")
        if len(parts) >= 2:
            from_name = (parts[-2], parts[-1])
    return (_marian_side(source_lang) or _marian_side(from_name[0]),
            _marian_side(target_lang) or _marian_side(from_name[1]))


def check_marian_side(language: str, known: set[str] | None) -> str:
    """The normalised request when a single-pair Marian model's side accepts it (or is unknown)."""
    request = parse_request(language)
    if known is None or request.language in known or set(_EQUIVALENT.get(request.language, ())) & known:
        return request.code
    raise LingotuneError(f"language {_describe(request.code)} is not what this side of the model handles: "
                         + ", ".join(_describe(k) for k in sorted(known)))

