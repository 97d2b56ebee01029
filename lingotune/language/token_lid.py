"""Which language is each token of a code-mixed text in? An offline token-level language identifier.

Code-mixing metrics (CMI, M-index, I-index; methods.md §4) need a language tag per token, and lingua
(used for whole texts in :mod:`lingotune.language.detect`) cannot give one: romanised Hindi is not one
of its languages, and single words carry too little evidence for a text-level detector. Tagging works
in three steps, in the canonical tagset of :mod:`lingotune.language.tagsets`:

1. **Rules** (:func:`rule_tag`): URLs, ``@mentions``, ``#hashtags`` and tokens without a letter
   (punctuation, numbers, emoji) are ``other``. With ``split_marks`` the word right after a bare ``@`` or
   ``#`` token (SentiMix tokenises ``@user`` as ``@`` ``user``), and ``_``-joined pieces after it, are the
   mention / hashtag, so ``other`` too.
2. **Script** (:data:`SCRIPT_LANGUAGES`): a token whose letters are mostly of a non-Latin script gets that
   script's dominant language (Devanagari → hi, Bengali → bn, Telugu → te, Arabic → ar, Cyrillic → ru, …;
   a model can override a script, the Hinglish one maps Arabic → ur); letters of no listed script → ``unk``.
3. **Model** for Latin-script words: a logistic regression over hashed character n-grams (1–5, with word
   boundaries ``<w>``), the word's identity and (optionally) whether it is in an English lexicon, choosing
   among the model's languages (hi/en for the shipped ``hinglish`` model). A model may add a second linear
   stage over the word scores of the token, its two nearest model-scored neighbours on each side and the
   utterance mean (context); the shipped one has none, because trained on SentiMix it learns the annotators'
   habit of tagging runs of English words Hin and smooths real switches away (measured: +2.2 points on
   SentiMix, -2.7 on HingLID). Scores are cached per word type, so tagging is dictionary look-ups plus a few
   array operations per batch (≈ 0.5M tokens/s cold, 1.3M warm on 2 busy cores; ``benchmarks/token_lid.py``).

Latin-script words outside the model's languages (a Spanish word in Hinglish) are forced into the pair. lingua
is no fallback for them: word by word it tags 78 % of a HingLID sample right (English vs the rest) against
the model's 89 %, and is 75–200× slower.

The shipped model is trained by ``scripts/train_token_lid.py`` on the SentiMix 2020 Hinglish dev file
(CC BY 4.0, tweets; ``/work/shared/data/SOURCES.md`` §5) minus a held-out 14 % of tweets, plus silver word tags
of Hinglish-TOP's train and validation rows (Apache-2.0, §5: a word of the Hinglish rewrite found in its English
request is en, one not found hi, names and homographs left out), with SentiMix's noise matrix estimated against
those silver tags and an English lexicon from Apache-2.0 texts (Hinglish-TOP train/validation ``en_query``,
self-instruct; never Hinglish-TOP's test rows, the code-switching recipe's evaluation). It reaches 89.9 % on
L3Cube-HingLID (evaluation only, CC BY-NC-SA; 88.6 % on SentiMix alone) and 81.4 % on the
held-out SentiMix tweets, below the ~93.5 % of a char n-gram model trained on HingLID itself: HingLID's and
SentiMix's annotations disagree on ~11 % of shared words (``docs/measurements/issue13/tagger.md``).
"""

from __future__ import annotations

import json
import unicodedata
import zipfile
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np
import regex

from lingotune.core.errors import ModelSourceError
from lingotune.language.conll import TaggedUtterance

__all__ = ["SCRIPT_LANGUAGES", "TokenLidModel", "TokenTagger", "context_features", "load_tagger", "rule_tag",
           "rule_tags", "word_features", "word_key"]

ASSETS = Path(__file__).resolve().parent / "assets"
SHIPPED: dict[str, str] = {"hinglish": "token_lid_hinglish.npz"}

# Script (first word of the Unicode character name) -> the language a token in it gets: the script's
# dominant language. Devanagari is also Marathi/Nepali, Bengali also Assamese, Arabic also Urdu/Persian,
# Cyrillic also Ukrainian/Bulgarian/…: a model overrides a script through its ``script_languages``.
SCRIPT_LANGUAGES: dict[str, str] = {
    "DEVANAGARI": "hi", "BENGALI": "bn", "GURMUKHI": "pa", "GUJARATI": "gu", "ORIYA": "or", "TAMIL": "ta",
    "TELUGU": "te", "KANNADA": "kn", "MALAYALAM": "ml", "SINHALA": "si", "ARABIC": "ar", "HEBREW": "he",
    "GREEK": "el", "CYRILLIC": "ru", "ARMENIAN": "hy", "GEORGIAN": "ka", "THAI": "th", "LAO": "lo",
    "KHMER": "km", "MYANMAR": "my", "TIBETAN": "bo", "ETHIOPIC": "am", "HANGUL": "ko", "HIRAGANA": "ja",
    "KATAKANA": "ja", "CJK": "zh",
}  # fmt: skip

_URL = regex.compile(r"(?i)^(?:[a-z][a-z0-9+.-]*://|www\.)\S+$|^(?:[\w-]+\.)+[a-z]{2,}/\S*$")
_MENTION = regex.compile(r"^[@#][\p{L}\p{N}_]")  # @user, #tag (the tag's own language is not asked)
_MARK = regex.compile(r"^[@#]_*$")  # a bare @ or # that a tokeniser split off its handle
_EDGE = regex.compile(r"^[^\p{L}\p{N}]+|[^\p{L}\p{N}]+$")
_REPEAT = regex.compile(r"(.)\1{2,}")


@lru_cache(maxsize=16384)
def _script(ch: str) -> str | None:
    word = unicodedata.name(ch, "").split(" ", 1)[0]
    return "LATIN" if word == "LATIN" else word if word in SCRIPT_LANGUAGES else None


def rule_tag(token: str, script_languages: Mapping[str, str] | None = None) -> str | None:
    """``other``, a script's language, ``unk``, or None for a Latin-script word left to the model."""
    text = unicodedata.normalize("NFKC", token)
    if _URL.match(text) or _MENTION.match(text):
        return "other"
    counts: dict[str | None, int] = {}
    for ch in text:
        if ch.isalpha():
            script = _script(ch)
            counts[script] = counts.get(script, 0) + 1
    if not counts:
        return "other"  # punctuation, numbers, emoji, symbols
    known = {s: n for s, n in counts.items() if s is not None}
    if not known:
        return "unk"
    script = max(sorted(known), key=known.__getitem__)
    if script == "LATIN":
        return None
    if script == "CJK" and ("HIRAGANA" in known or "KATAKANA" in known):
        script = "HIRAGANA"
    return (script_languages or {}).get(script) or SCRIPT_LANGUAGES[script]


def _handle_positions(tokens: Sequence[str]) -> list[int]:
    """Positions of the handle after each bare ``@``/``#``: the next token and ``_``-joined pieces."""
    out: list[int] = []
    for i, token in enumerate(tokens):
        if _MARK.match(token):
            j = i + 1
            while j < len(tokens) and not _MARK.match(tokens[j]):
                out.append(j)
                if j + 2 < len(tokens) and regex.fullmatch(r"_+", tokens[j + 1]):
                    j += 2
                else:
                    break
    return out


def rule_tags(tokens: Sequence[str], script_languages: Mapping[str, str] | None = None, *,
              split_marks: bool = True) -> list[str | None]:
    """:func:`rule_tag` per token, plus split handles (``@`` ``user``) as ``other`` with ``split_marks``."""
    tags = [rule_tag(t, script_languages) for t in tokens]
    if split_marks:
        for j in _handle_positions(tokens):
            tags[j] = "other"
    return tags


def word_key(token: str) -> str:
    """What the model sees of a word: NFKC, casefolded, edge punctuation cut, runs of 3+ letters cut to 2."""
    text = unicodedata.normalize("NFKC", token).casefold()
    return _REPEAT.sub(r"\1\1", _EDGE.sub("", text) or text)


def word_features(key: str, ngrams: tuple[int, int], buckets: int, identity: bool = True,
                  lexicon: frozenset[str] | None = None) -> list[int]:
    """Hashed feature ids (CRC-32, stable across processes) of a word key: ``W:key``, its n-grams and,
    with a lexicon, whether the key is in it (by length: short English words are often Hindi too)."""
    mask = buckets - 1
    padded = f"<{key}>"
    out = [zlib.crc32(b"W:" + key.encode()) & mask] if identity else []
    if lexicon is not None:
        out.append(zlib.crc32(f"L:{key in lexicon}:{min(len(key), 6)}".encode()) & mask)
    for n in range(ngrams[0], ngrams[1] + 1):
        out.extend(zlib.crc32(padded[i:i + n].encode()) & mask for i in range(len(padded) - n + 1))
    return out


def context_features(z: np.ndarray, scored: np.ndarray, utterance: np.ndarray) -> np.ndarray:
    """Per token: [z_i, z of the 2 nearest scored tokens before and after, utterance mean z, has-prev,
    has-next]; ``z`` [N, K] centred word logits (0 where not scored), ``utterance`` nondecreasing ids."""
    n, k = z.shape
    pos = np.flatnonzero(scored)
    if len(pos) == 0:
        return np.concatenate([z, np.zeros((n, 5 * k + 2), np.float32)], axis=1)
    zs, us = z[pos], utterance[pos]
    first = np.searchsorted(pos, np.arange(n))
    prev1 = first - 1
    next1 = np.where(scored, first + 1, first)

    def take(index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        safe = np.clip(index, 0, len(pos) - 1)
        valid = (index >= 0) & (index < len(pos)) & (us[safe] == utterance)
        return np.where(valid[:, None], zs[safe], 0.0), valid

    (p1, has_p1), (p2, _), (n1, has_n1), (n2, _) = take(prev1), take(prev1 - 1), take(next1), take(next1 + 1)
    count = np.bincount(us, minlength=utterance[-1] + 1).astype(np.float32)
    mean = np.stack([np.bincount(us, zs[:, c], minlength=len(count)) for c in range(k)], axis=1)
    mean /= np.maximum(count, 1.0)[:, None]
    return np.concatenate([z, p1, p2, n1, n2, mean[utterance], has_p1[:, None], has_n1[:, None]],
                          axis=1).astype(np.float32)


@dataclass
class TokenLidModel:
    """Weights of the word model (sparse over ``buckets`` hashed features; float16 on disk) and of the optional
    context stage, the model's script overrides and English lexicon, and ``meta`` (how it was trained)."""

    languages: tuple[str, ...]
    index: np.ndarray  # uint32 [nnz]: hashed feature ids with a weight
    weight: np.ndarray  # float [nnz, K]
    bias: np.ndarray  # float [K]
    ngrams: tuple[int, int] = (1, 5)
    buckets: int = 1 << 20
    identity: bool = True
    context_weight: np.ndarray | None = None  # [F, K]; None: word scores alone decide
    context_bias: np.ndarray | None = None
    script_languages: dict[str, str] = field(default_factory=dict)
    lexicon: frozenset[str] | None = None
    meta: dict = field(default_factory=dict)

    def dense_weight(self) -> np.ndarray:
        dense = np.zeros((self.buckets, len(self.languages)), np.float32)
        dense[self.index.astype(np.int64)] = self.weight
        return dense

    def save(self, path: str | Path) -> None:
        config = {"languages": list(self.languages), "ngrams": list(self.ngrams), "buckets": self.buckets,
                  "identity": self.identity, "script_languages": self.script_languages, "meta": self.meta}
        arrays = {"index": self.index.astype(np.uint32), "weight": self.weight.astype(np.float16),
                  "bias": self.bias.astype(np.float32), "config": np.array(json.dumps(config, sort_keys=True))}
        if self.lexicon is not None:
            arrays["lexicon"] = np.array("\n".join(sorted(self.lexicon)))
        if self.context_weight is not None and self.context_bias is not None:
            arrays |= {"context_weight": self.context_weight.astype(np.float32),
                       "context_bias": self.context_bias.astype(np.float32)}
        with open(path, "wb") as handle:
            np.savez_compressed(handle, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> TokenLidModel:
        try:
            with np.load(path, allow_pickle=False) as data:
                config = json.loads(str(data["config"]))
                context = (data["context_weight"], data["context_bias"]) if "context_weight" in data else (None, None)
                lexicon = frozenset(str(data["lexicon"]).split("\n")) if "lexicon" in data else None
                return cls(tuple(config["languages"]), data["index"], data["weight"].astype(np.float32),
                           data["bias"], tuple(config["ngrams"]), int(config["buckets"]), bool(config["identity"]),
                           context[0], context[1], dict(config["script_languages"]), lexicon, dict(config["meta"]))
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
            raise ModelSourceError(f"{path}: not a token language-ID model ({type(error).__name__}: {error})") from None


class TokenTagger:
    """Tags token lists with the canonical tagset. Word scores and rule tags are cached per token string
    (up to ``cache_size`` types; the cache is emptied when full)."""

    def __init__(self, model: TokenLidModel, *, split_marks: bool = True, cache_size: int = 1_000_000) -> None:
        self.model = model
        self.languages = model.languages
        self.split_marks = split_marks
        self.cache_size = cache_size
        self._dense = model.dense_weight()
        self._lang_index = {lang: i for i, lang in enumerate(model.languages)}
        self.clear_cache()

    def clear_cache(self) -> None:
        k = len(self.languages)
        self._codes: dict[str, int] = {}  # token -> row of _z (>= 0) or -(2 + index into _tags)
        self._tags: list[str] = []
        self._tag_code: dict[str, int] = {}
        self._z = np.zeros((1024, k), np.float32)
        self._rows = 0

    @property
    def cached_types(self) -> int:
        return len(self._codes)

    def word_logits(self, keys: Sequence[str]) -> np.ndarray:
        """Centred word-model logits [len(keys), K] of word keys (:func:`word_key`), uncached."""
        m = self.model
        ids = [word_features(key, m.ngrams, m.buckets, m.identity, m.lexicon) for key in keys]
        if not ids:
            return np.zeros((0, len(self.languages)), np.float32)
        starts = np.cumsum([0] + [len(i) for i in ids[:-1]])
        rows = np.add.reduceat(self._dense[np.fromiter((f for i in ids for f in i), np.int64)], starts, axis=0)
        logits = rows + m.bias
        return (logits - logits.mean(axis=1, keepdims=True)).astype(np.float32)

    def _learn(self, tokens: Iterable[str]) -> None:
        if len(self._codes) > self.cache_size:
            self.clear_cache()
        new: dict[str, str] = {}
        for token in tokens:
            if token in self._codes or token in new:
                continue
            tag = rule_tag(token, self.model.script_languages)
            if tag is None:
                new[token] = word_key(token)
            else:
                self._codes[token] = -2 - self._tag_id(tag)
        if not new:
            return
        z = self.word_logits(list(new.values()))
        while self._rows + len(z) > len(self._z):
            self._z = np.concatenate([self._z, np.zeros_like(self._z)])
        self._z[self._rows:self._rows + len(z)] = z
        for offset, token in enumerate(new):
            self._codes[token] = self._rows + offset
        self._rows += len(z)

    def tag(self, tokens: Sequence[str], *, languages_only: bool = False) -> list[str]:
        return self.tag_many([tokens], languages_only=languages_only)[0]

    def tag_many(self, utterances: Iterable[Sequence[str]], *, languages_only: bool = False) -> list[list[str]]:
        """Tags per utterance. ``languages_only``: every token gets one of the model's languages (rule and
        script tokens outside them are decided by their neighbours), for gold sets without ``other``."""
        utterances = [list(u) for u in utterances]
        flat = [t for u in utterances for t in u]
        if not flat:
            return [[] for _ in utterances]
        self._learn(flat)
        get = self._codes.__getitem__
        codes = np.fromiter((get(t) for t in flat), np.int64, len(flat))
        lengths = np.array([len(u) for u in utterances])
        utterance = np.repeat(np.arange(len(utterances)), lengths)
        if self.split_marks:
            offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
            for u, start in enumerate(offsets):
                if any(t[:1] in "@#" for t in utterances[u]):
                    codes[[start + j for j in _handle_positions(utterances[u])]] = -2 - self._tag_id("other")
        scored = codes >= 0
        z = np.where(scored[:, None], self._z[np.maximum(codes, 0)], 0.0).astype(np.float32)
        m = self.model
        if m.context_weight is not None and m.context_bias is not None:
            logits = context_features(z, scored, utterance) @ m.context_weight + m.context_bias
        elif languages_only and not scored.all():  # no context stage: a token without a score takes its
            k = len(self.languages)  # nearest scored neighbours' (before and after) summed scores
            features = context_features(z, scored, utterance)
            logits = np.where(scored[:, None], z, features[:, 2 * k:3 * k] + features[:, 4 * k:5 * k])
        else:
            logits = z
        best = np.argmax(logits, axis=1)
        names = [self._tags[-2 - c] if c < 0 else "" for c in codes.tolist()]
        out_of_pair = [name not in self._lang_index for name in names]
        tags = [self.languages[b] if c >= 0 or (languages_only and other) else name
                for c, b, name, other in zip(codes.tolist(), best.tolist(), names, out_of_pair, strict=True)]
        result, start = [], 0
        for n in lengths.tolist():
            result.append(tags[start:start + n])
            start += n
        return result

    def _tag_id(self, tag: str) -> int:
        if tag not in self._tag_code:
            self._tag_code[tag] = len(self._tags)
            self._tags.append(tag)
        return self._tag_code[tag]

    def tag_utterances(self, utterances: Sequence[TaggedUtterance], *, languages_only: bool = False,
                       ) -> list[TaggedUtterance]:
        """Copies of ``utterances`` (ids and labels kept) with this tagger's tags; raw tags are the tags."""
        tags = self.tag_many((u.tokens for u in utterances), languages_only=languages_only)
        return [TaggedUtterance(list(u.tokens), t, list(t), u.uid, u.label, u.line)
                for u, t in zip(utterances, tags, strict=True)]


def tagger_path(name_or_path: str | Path) -> Path:
    """The model file of a shipped name (``hinglish``) or a path."""
    key = str(name_or_path)
    return ASSETS / SHIPPED[key] if key in SHIPPED else Path(key)


def load_tagger(name_or_path: str | Path = "hinglish", **options: object) -> TokenTagger:
    """A :class:`TokenTagger` for a shipped model name (``hinglish``) or a model file (``.npz``)."""
    key = str(name_or_path)
    path = tagger_path(key)
    if not path.is_file():
        raise ModelSourceError(f"token language-ID model {key!r}: neither a shipped model ({', '.join(SHIPPED)}) "
                               "nor a model file (.npz written by `lingotune data train-tagger`)")
    return TokenTagger(TokenLidModel.load(path), **options)  # type: ignore[arg-type]
