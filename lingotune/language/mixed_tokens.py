"""Raw code-mixed text → the tokens a token-level language identifier tags.

Written here because the tokenisers that ship with the field's libraries either need a model (subword
tokenisers) or split what code-mixing metrics must keep whole: a URL, an ``@mention``, a ``#hashtag``,
an emoji with its modifiers, "don't", "9:30". Words are letters with their combining marks (so
Devanagari vowel signs stay in their word) and inner apostrophes or hyphens; numbers keep inner
separators; every other visible character (a grapheme cluster) is a token of its own.
"""

from __future__ import annotations

import regex

_TOKEN = regex.compile(
    r"(?i:(?:[a-z][a-z0-9+.-]*://|www\.)\S+)"  # URL
    r"|[@#][\p{L}\p{M}\p{N}_]+"  # @mention, #hashtag
    r"|[\p{L}\p{M}]+(?:['’\-][\p{L}\p{M}]+)*"  # word
    r"|\p{N}+(?:[.,:/]\p{N}+)*"  # number, time, date
    r"|\X",  # anything else: one grapheme (emoji with modifiers, punctuation)
)


def split_tokens(text: str) -> list[str]:
    """The tokens of ``text``, whitespace dropped."""
    return [token for token in _TOKEN.findall(text) if not token.isspace()]
