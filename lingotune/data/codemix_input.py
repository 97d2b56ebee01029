"""Any text file → tagged utterances, for ``lingotune data tag`` and ``data codeswitch``.

A CoNLL file brings its own tags (gold; mapped by its tagset) and the tagger can be compared with them;
a ``.txt`` file is one utterance per line; any other format the loaders read gives one utterance per
example, from its prompt or its answer. Untagged text is cut by :func:`split_tokens` and tagged by the
token tagger (the shipped ``hinglish`` model, a tagger file, or ``lingua:L1,L2``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from lingotune.core.textfile import lines, read_text
from lingotune.data.loaders import load_examples
from lingotune.language.conll import TaggedUtterance, read_conll
from lingotune.language.mixed_tokens import split_tokens
from lingotune.language.taggers import tagger_for

Side = Literal["prompt", "answer"]


def read_utterances(path: str | Path, *, fmt: str = "auto", language: str = "und", side: Side = "prompt",
                    tagset: str | None = "auto") -> tuple[list[TaggedUtterance], bool]:
    """The file's utterances and whether they carry gold tags (CoNLL) or only tokens."""
    path = Path(path)
    if fmt == "conll" or (fmt == "auto" and path.suffix.lower() == ".conll"):
        return read_conll(path, tagset), True
    if fmt == "text" or (fmt == "auto" and path.suffix.lower() == ".txt"):
        texts = [(number, line) for number, line in enumerate(lines(read_text(str(path))), 1) if line.strip()]
        return [TaggedUtterance(split_tokens(text), [], line=number) for number, text in texts], False
    utterances = []
    for example in load_examples(path, fmt, language if language != "und" else "en"):
        text = (example.response or "") if side == "answer" else example.user_text
        utterances.append(TaggedUtterance(split_tokens(text), [], uid=str(example.meta.get("id", "")) or None,
                                          line=int(example.meta.get("line", example.meta.get("index", 0)))))
    return utterances, False


def tag_utterances(utterances: list[TaggedUtterance], tagger: str) -> list[list[str]]:
    return tagger_for(tagger).tag_many([u.tokens for u in utterances])


def token_accuracy(gold: list[list[str]], predicted: list[list[str]]) -> dict[str, float]:
    """Token accuracy and per-tag F1 of ``predicted`` against ``gold`` (all tags of the gold set)."""
    pairs = [(g, p) for gs, ps in zip(gold, predicted, strict=True) for g, p in zip(gs, ps, strict=True)]
    result = {"tokens": float(len(pairs)),
              "accuracy": 100 * sum(g == p for g, p in pairs) / len(pairs) if pairs else float("nan")}
    for tag in sorted({g for g, _ in pairs}):
        tp = sum(g == p == tag for g, p in pairs)
        fp = sum(p == tag != g for g, p in pairs)
        fn = sum(g == tag != p for g, p in pairs)
        result[f"f1_{tag}"] = 100 * 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else float("nan")
    return result
