"""A tagger spec (``hinglish``, a tagger file, ``lingua:L1,L2``) → the tagger, loaded once per process, and
raw texts → token tags: the one path the data builders, the CLI and the evaluation kinds share."""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from lingotune.language.lingua_pair_tagger import LinguaPairTagger, parse_pair_spec
from lingotune.language.mixed_tokens import split_tokens
from lingotune.language.token_lid import TokenTagger, load_tagger


@lru_cache(maxsize=4)
def tagger_for(spec: str) -> TokenTagger | LinguaPairTagger:
    pair = parse_pair_spec(spec)
    return LinguaPairTagger(*pair) if pair else load_tagger(spec)


def tag_texts(texts: Sequence[str], spec: str) -> list[list[str]]:
    """Each text cut into tokens (:func:`split_tokens`) and tagged by ``spec``'s tagger."""
    return tagger_for(spec).tag_many([split_tokens(text) for text in texts])
