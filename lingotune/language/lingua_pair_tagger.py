"""Token tags for a language pair no trained tagger covers, from lingua restricted to the pair.

The shipped token tagger knows Hinglish; a Spanish–English (or any other) pair is tagged here: the same
rules for ``other`` tokens and non-Latin scripts, then each word decided between the two languages by
lingua's per-word confidence (cached per word type). Single words carry little evidence, so this is
weaker than a trained tagger (no context); it exists so that the S-index of any pair can be measured
offline, e.g. a model's answers on a pair it never trained on. Spec: ``lingua:en,es``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from lingua import IsoCode639_1, LanguageDetectorBuilder

from lingotune.core.errors import LingotuneError
from lingotune.language.codes import canonical_language
from lingotune.language.token_lid import rule_tag


class LinguaPairTagger:
    """``tag_many`` like :class:`~lingotune.language.token_lid.TokenTagger`, for two lingua languages."""

    def __init__(self, first: str, second: str) -> None:
        codes = [canonical_language(first) or first, canonical_language(second) or second]
        try:
            isos = [IsoCode639_1.from_str(code) for code in codes]
        except ValueError:
            raise LingotuneError(f"tagger lingua:{first},{second}: lingua has no language {codes}") from None
        self.languages = tuple(codes)
        self._detector = LanguageDetectorBuilder.from_iso_codes_639_1(*isos).with_preloaded_language_models().build()
        self._cache: dict[str, str] = {}

    def _word(self, word: str) -> str:
        if word not in self._cache:
            best = self._detector.compute_language_confidence_values(word)[0]
            self._cache[word] = best.language.iso_code_639_1.name.lower()
        return self._cache[word]

    def tag(self, tokens: Sequence[str]) -> list[str]:
        return [rule_tag(token) or self._word(token.lower()) for token in tokens]

    def tag_many(self, utterances: Iterable[Sequence[str]]) -> list[list[str]]:
        return [self.tag(tokens) for tokens in utterances]


def parse_pair_spec(spec: str) -> tuple[str, str] | None:
    """``lingua:en,es`` → ("en", "es"); anything else → None."""
    if not spec.startswith("lingua:"):
        return None
    pair = [part.strip() for part in spec.split(":", 1)[1].split(",")]
    if len(pair) != 2 or not all(pair):
        raise LingotuneError(f"tagger {spec!r}: expected lingua:LANG1,LANG2, e.g. lingua:en,es")
    return pair[0], pair[1]
