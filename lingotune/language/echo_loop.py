"""Is an open-ended answer an answer at all? Echo, repetition loop, too short.

Answer-language fidelity cannot see these failures: an answer that copies the prompt back is in the
right language, and so is "I am here to help you. I am here to help you. …". Small models under
adaptation drift into both (issue 10: the quickstart's Spanish echoes rose from 32 to 50 of 80 while
fidelity stayed flat), and no judge strong enough to catch them runs offline, so they are measured
here, per answer, in any script.

Units. Text is cut into word units (letters, marks and digits, so Devanagari vowel signs stay inside
their word) except in scripts written without spaces (Han, kana, Thai, Lao, Khmer, Myanmar), where
each character is a unit. Casefolded; punctuation and emoji are not units.

* **Echo share**: the share of the answer's characters (in units) covered by a run of 3 units (5
  characters in unspaced scripts) that also occurs, in that order, in the prompt. Three words in a row
  shared with the prompt are copied, not chosen. **Echo** when the share is ≥ 0.5: an answer mostly
  copied. On the base model's 80 MT-Bench-X ES answers this counts 32 echoes, as the issue's difflib
  count did (33 here); difflib's character blocks also count scattered common letters ("Haz de proferes
  de matemáticas. Para esto, no pueden…" scores 0.64 there, 0 here), and miss copies out of order.
  An answer shorter than 3 units is an echo when it occurs whole in the prompt.
* **Loop share**: the share of the answer's 4-grams (6 characters in unspaced scripts) that repeat an
  earlier 4-gram of the same answer (rep-n of Welleck et al. 2019, within one answer). **Loop** when
  ≥ 0.25: a sentence said twice in a short answer scores ~0.3 ("La tercera puede ser verdadera, falsa
  o incierta. En este caso, la tercera puede ser verdadera, falsa o incierta."), "la vida de la vida
  de…" 0.9; fluent prose and lists ~0.
* **Too short**: fewer than 3 word units (a character of an unspaced script counts half a word), so
  empty answers, a lone "Sí." or "¡Hola!" to "write a blog post" count as failures of an open
  request. Set ``min_answer_words`` higher or lower per task.

An answer that is none of the three is a *real answer*; fidelity's headline is computed over those.
The n-gram matching is written here: difflib's blocks miss reordered copies, and no maintained
library offers prompt-copy or rep-n detection for arbitrary scripts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import regex

ECHO_THRESHOLD = 0.5
LOOP_THRESHOLD = 0.25
MIN_ANSWER_WORDS = 3.0
ECHO_NGRAM = (3, 5)  # (word units, characters of unspaced scripts)
LOOP_NGRAM = (4, 6)

_UNSPACED = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}\p{Lao}\p{Khmer}\p{Myanmar}"
_UNIT = regex.compile(rf"[{_UNSPACED}]|(?:(?![{_UNSPACED}])[\p{{L}}\p{{M}}\p{{N}}])+(?:['’](?:(?![{_UNSPACED}])"
                      rf"[\p{{L}}\p{{M}}\p{{N}}])+)*")
_UNSPACED_CHAR = regex.compile(rf"[{_UNSPACED}]")


def units(text: str) -> list[str]:
    """Casefolded word units; single characters in scripts written without spaces."""
    return [u.casefold() for u in _UNIT.findall(text or "")]


def _ngram_size(answer_units: Sequence[str], sizes: tuple[int, int]) -> int:
    """The word size, or the character size when most units are characters of an unspaced script."""
    unspaced = sum(1 for u in answer_units if _UNSPACED_CHAR.fullmatch(u))
    return sizes[1] if answer_units and unspaced * 2 > len(answer_units) else sizes[0]


def _ngrams(seq: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(seq[i:i + n]) for i in range(len(seq) - n + 1)]


def _contains_run(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    k = len(needle)
    return any(list(haystack[i:i + k]) == list(needle) for i in range(len(haystack) - k + 1))


def echo_share(prompt: str, answer: str) -> float:
    """Share of the answer's characters in runs of n units copied from the prompt (0 for an empty answer)."""
    a, p = units(answer), units(prompt)
    if not a:
        return 0.0
    n = _ngram_size(a, ECHO_NGRAM)
    if len(a) < n:
        return 1.0 if _contains_run(p, a) else 0.0
    copied = set(_ngrams(p, n))
    covered = [False] * len(a)
    for i, gram in enumerate(_ngrams(a, n)):
        if gram in copied:
            covered[i:i + n] = [True] * n
    total = sum(len(u) for u in a)
    return sum(len(u) for u, c in zip(a, covered, strict=True) if c) / total


def loop_share(answer: str) -> float:
    """Share of the answer's n-grams that repeat an earlier one (0 when it has fewer than 2n units)."""
    a = units(answer)
    n = _ngram_size(a, LOOP_NGRAM)
    if len(a) < 2 * n:
        return 0.0
    seen: set[tuple[str, ...]] = set()
    repeats = 0
    grams = _ngrams(a, n)
    for gram in grams:
        repeats += gram in seen
        seen.add(gram)
    return repeats / len(grams)


def word_count(answer: str) -> float:
    """Words, with a character of an unspaced script counted as half a word."""
    return sum(0.5 if _UNSPACED_CHAR.fullmatch(u) else 1.0 for u in units(answer))


@dataclass(frozen=True)
class AnswerCheck:
    echo_share: float
    loop_share: float
    words: float
    chars: int  # non-space characters
    echo: bool
    loop: bool
    too_short: bool

    @property
    def real(self) -> bool:
        """Neither an echo nor a loop nor too short: an answer whose language is worth counting."""
        return not (self.echo or self.loop or self.too_short)

    def scores(self) -> dict[str, float]:
        """Per-item values under the summary's metric names (0/1 flags; the summary shows % of answers)."""
        return {"echo": float(self.echo), "loop": float(self.loop), "too_short": float(self.too_short),
                "answer_chars": float(self.chars)}


def check_answer(prompt: str, answer: str, *, echo_threshold: float = ECHO_THRESHOLD,
                 loop_threshold: float = LOOP_THRESHOLD, min_words: float = MIN_ANSWER_WORDS) -> AnswerCheck:
    echo, loop, words = echo_share(prompt, answer), loop_share(answer), word_count(answer)
    chars = sum(1 for ch in answer or "" if not ch.isspace())
    too_short = words < min_words
    return AnswerCheck(round(echo, 4), round(loop, 4), words, chars, echo=not too_short and echo >= echo_threshold,
                       loop=not too_short and loop >= loop_threshold, too_short=too_short)
