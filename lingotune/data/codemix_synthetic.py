"""Synthetic code-mixed text from parallel sentences and a bilingual dictionary, at a chosen rate.

Code-mixed training data exists for a handful of pairs; synthetic code-mixing by dictionary word
replacement (CoSDA-ML, Qin et al., IJCAI 2020) gives any pair with a dictionary. The usual toolkits
that do it with syntax (GCM's equivalence-constraint theory) need parsers that do not install
offline, so lingotune does the dictionary version and uses the parallel sentence to pick the sense:
a word is replaced by the translation that occurs in its parallel sentence when one does, which
avoids most wrong-sense picks ("bank" → "orilla" in a finance sentence).

* ``rate`` is the share of the sentence's word tokens written in the embedded language (0 = the
  matrix sentence unchanged). The requested share is met where the dictionary covers enough words;
  the achieved share is returned with every sentence. Switching grows with the rate up to 0.5, then
  the embedded language becomes the matrix one: S-index and CMI are symmetric around 0.5.
* ``mean_span``: 1 replaces single words; larger values replace runs of consecutive words, giving
  fewer, longer switches at the same rate (insertional vs alternational mixing).
* Kept: the original spacing and punctuation (replacements are made in place), casing (Title, UPPER),
  numbers and named entities (tagged ``other`` / ``ne``, never replaced; a capitalised word that is
  not sentence-initial, or that occurs verbatim in the parallel sentence, is taken for a name).

Tags follow :mod:`lingotune.language.tagsets`, so the output feeds the code-mixing metrics directly.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import regex

from lingotune.core.errors import DataError
from lingotune.core.progress import console
from lingotune.core.textfile import lines, read_text
from lingotune.language.codes import canonical_language
from lingotune.language.conll import TaggedUtterance

_TOKEN = regex.compile(r"[\p{L}\p{M}]+(?:['’\-][\p{L}\p{M}]+)*|\p{N}+(?:[.,:]\p{N}+)*|[^\s\p{L}\p{M}\p{N}]")
_WORD = regex.compile(r"^[\p{L}\p{M}]+(?:['’\-][\p{L}\p{M}]+)*$")


def read_dictionary(path: str, *, reverse: bool = False) -> dict[str, list[str]]:
    """A MUSE-style bilingual dictionary (``source<TAB or space>target`` per line, one pair per line,
    a word may have several translations, most common first) as source → translations.
    ``reverse`` reads an X→en file as en→X (the Wiktionary BLI sets run that way)."""
    table: dict[str, list[str]] = {}
    untranslated: list[int] = []
    for number, line in enumerate(lines(read_text(path)), 1):
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t") if "\t" in line else line.split()
        if len(parts) == 2 and parts[0].strip() and not parts[1].strip():
            untranslated.append(number)  # a headword without a translation (Wiktionary has a few)
            continue
        if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
            raise DataError(path, str(number), f"expected 'source<TAB>target', got {line[:60]!r}")
        source, target = (parts[1], parts[0]) if reverse else (parts[0], parts[1])
        source, target = source.strip().lower(), target.strip()
        if target not in table.setdefault(source, []):
            table[source].append(target)
    if not table:
        raise DataError(path, "file", "no dictionary pairs")
    if untranslated:
        console.print(f"{path}: {len(untranslated)} headwords without a translation skipped "
                      f"(lines {', '.join(map(str, untranslated[:5]))}{' …' if len(untranslated) > 5 else ''})")
    return table


@dataclass
class MixedSentence:
    """A synthetic code-mixed sentence, its token tags, and the embedded share actually reached."""

    text: str
    utterance: TaggedUtterance
    achieved_rate: float
    requested_rate: float


def _match_case(word: str, translation: str) -> str:
    if word.isupper() and len(word) > 1:
        return translation.upper()
    if word[:1].isupper():
        return translation[:1].upper() + translation[1:]
    return translation


def code_mix(
    sentence: str,
    dictionary: dict[str, list[str]],
    *,
    matrix: str,
    embedded: str,
    rate: float,
    rng: random.Random,
    parallel: str | None = None,
    mean_span: float = 1.0,
    require_parallel_sense: bool = False,
) -> MixedSentence:
    """``sentence`` (in ``matrix``) with about ``rate`` of its words replaced by ``embedded`` ones."""
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"rate must lie in [0, 1], got {rate}")
    matrix, embedded = canonical_language(matrix) or matrix, canonical_language(embedded) or embedded
    matches = list(_TOKEN.finditer(sentence))
    parallel_words = {m.group().lower() for m in _TOKEN.finditer(parallel)} if parallel else set()
    verbatim = {m.group() for m in _TOKEN.finditer(parallel)} if parallel else set()
    tags: list[str] = []
    choice: dict[int, str] = {}
    first_word_seen = False
    letters = [ch for ch in sentence if ch.isalpha()]
    shouting = sum(ch.isupper() for ch in letters) > 0.6 * len(letters) if letters else False
    for index, match in enumerate(matches):
        token = match.group()
        if not _WORD.match(token):
            tags.append("other")
            continue
        initial = not first_word_seen
        first_word_seen = True
        # a capital inside the sentence marks a name, unless the whole sentence is in capitals
        name = not shouting and token[:1].isupper() and (not initial or token in verbatim)
        if name:
            tags.append("ne")
            continue
        tags.append(matrix)
        translations = dictionary.get(token.lower())
        if translations:
            sense = next((t for t in translations if t.lower() in parallel_words), None)
            if sense is None and not (parallel_words and require_parallel_sense):
                sense = translations[0]  # no parallel sentence, or none of the senses occurs in it
            if sense and sense.lower() != token.lower():
                choice[index] = _match_case(token, sense)
    words = [i for i, tag in enumerate(tags) if tag == matrix]
    target = round(rate * len(words))
    chosen: set[int] = set()
    candidates = [i for i in words if i in choice]
    position = {index: k for k, index in enumerate(words)}
    while len(chosen) < target and len(chosen) < len(candidates):
        start = rng.choice([i for i in candidates if i not in chosen])
        span = 1 if mean_span <= 1 else 1 + int(rng.expovariate(1.0 / (mean_span - 1)) + 0.5)
        k = position[start]
        while span > 0 and k < len(words) and len(chosen) < target:
            index = words[k]
            if index not in choice:
                break
            chosen.add(index)
            span -= 1
            k += 1
    pieces: list[str] = []
    tokens: list[str] = []
    last = 0
    for index, match in enumerate(matches):
        pieces.append(sentence[last : match.start()])
        if index in chosen:
            pieces.append(choice[index])
            tokens.append(choice[index])
            tags[index] = embedded
        else:
            pieces.append(match.group())
            tokens.append(match.group())
        last = match.end()
    pieces.append(sentence[last:])
    achieved = len(chosen) / len(words) if words else 0.0
    return MixedSentence("".join(pieces), TaggedUtterance(tokens, tags), achieved, rate)


def build_synthetic_codemix(
    pairs: Iterable[tuple[str, str]],
    dictionary: dict[str, list[str]],
    *,
    matrix: str,
    embedded: str,
    rate: float | Sequence[float],
    seed: int = 0,
    mean_span: float = 1.0,
) -> list[MixedSentence]:
    """One mixed sentence per (matrix sentence, parallel sentence) pair; a list of rates is cycled
    through, so one call builds a set spread over switching levels."""
    rates = [rate] if isinstance(rate, (int, float)) else list(rate)
    rng = random.Random(seed)
    return [
        code_mix(source, dictionary, matrix=matrix, embedded=embedded, rate=rates[i % len(rates)], rng=rng,
                 parallel=target, mean_span=mean_span)
        for i, (source, target) in enumerate(pairs)
    ]
