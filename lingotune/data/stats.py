"""How much text of each language a data set holds, and how well a tokenizer covers it.

Tokens per word (fertility) is the quickest sign that a tokenizer serves a language badly: an
English-first tokenizer often needs two to four times as many tokens per word elsewhere, which makes
training slower and contexts shorter. Counting words by whitespace fails for scripts written without
spaces, so for those the character is the word unit, and every entry says which unit it used.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rich.table import Table

from lingotune.data.example import Example
from lingotune.language.codes import canonical_language

# Written without spaces between words (ISO 639-1 and 639-3 codes): Chinese, Japanese, Thai, Lao,
# Khmer, Burmese.
NO_SPACE_LANGUAGES = frozenset({"zh", "zho", "cmn", "yue", "ja", "jpn", "th", "tha", "lo", "lao",
                                "km", "khm", "my", "mya"})
_BATCH = 512


def word_unit(language: str) -> str:
    base = canonical_language(language) or ""
    return "character" if base in NO_SPACE_LANGUAGES else "whitespace"


def count_words(text: str, language: str) -> int:
    if word_unit(language) == "character":
        return sum(1 for char in text if not char.isspace())
    return len(text.split())


def _count_tokens(tokenizer: Any, texts: Sequence[str]) -> int:
    """Without special tokens: BOS/EOS would inflate fertility by a per-message constant."""
    total = 0
    for start in range(0, len(texts), _BATCH):
        encoded = tokenizer(list(texts[start : start + _BATCH]), add_special_tokens=False)
        total += sum(len(ids) for ids in encoded["input_ids"])
    return total


def _texts_by_language(example: Example) -> list[tuple[str, str]]:
    """Each text with its own language: a parallel pair's source side counts for the source language,
    so fertility is not skewed by mixing two languages under one code."""
    meta = example.meta
    if meta.get("src_lang") and "src" in meta and "tgt" in meta:
        return [(meta["src_lang"], meta["src"]), (example.language, meta["tgt"])]
    return [(example.language, message["content"]) for message in example.messages]


def compute_stats(examples: Iterable[Example], tokenizer: Any = None) -> dict[str, Any]:
    """Per-language counts over all message contents, plus totals.

    Returns ``{"languages": {code: {"examples", "words", "characters", "word_unit"[, "tokens",
    "fertility"]}}, "total": {...}, "tokenizer": name or None}``.
    """
    languages: dict[str, dict[str, Any]] = {}
    texts: dict[str, list[str]] = {}
    for example in examples:
        for language, text in _texts_by_language(example):
            entry = languages.setdefault(language, {
                "examples": 0, "words": 0, "characters": 0, "word_unit": word_unit(language),
            })
            entry["words"] += count_words(text, language)
            entry["characters"] += len(text)
            texts.setdefault(language, []).append(text)
        languages[example.language]["examples"] += 1
    if tokenizer is not None:
        for language, entry in languages.items():
            entry["tokens"] = _count_tokens(tokenizer, texts.get(language, []))
            entry["fertility"] = entry["tokens"] / entry["words"] if entry["words"] else None
    keys = ("examples", "words", "characters") + (("tokens",) if tokenizer is not None else ())
    total = {key: sum(entry[key] for entry in languages.values()) for key in keys}
    name = None if tokenizer is None else getattr(tokenizer, "name_or_path", None) or type(tokenizer).__name__
    return {"languages": dict(sorted(languages.items())), "total": total, "tokenizer": name}


def format_stats_table(stats: dict[str, Any]) -> Table:
    """A rich table; languages counted in characters are starred and the caption says why."""
    with_tokens = "tokens" in stats["total"]
    title = "Data by language" + (f" (tokenizer: {stats['tokenizer']})" if stats["tokenizer"] else "")
    table = Table(title=title)
    table.add_column("Language")
    for header in ("Examples", "Words", "Characters") + (("Tokens", "Tokens/word") if with_tokens else ()):
        table.add_column(header, justify="right")
    starred = False
    for language, entry in stats["languages"].items():
        star = "*" if entry["word_unit"] == "character" else ""
        starred = starred or bool(star)
        row = [f"{language}{star}"] + [f"{entry[key]:,}" for key in ("examples", "words", "characters")]
        if with_tokens:
            fertility = entry["fertility"]
            row += [f"{entry['tokens']:,}", "-" if fertility is None else f"{fertility:.2f}"]
        table.add_row(*row)
    total = stats["total"]
    row = ["total"] + [f"{total[key]:,}" for key in ("examples", "words", "characters")]
    table.add_section()
    table.add_row(*row, *((f"{total['tokens']:,}", "") if with_tokens else ()), style="bold")
    if starred:
        table.caption = "* written without spaces: words are counted as characters (excluding whitespace)"
    return table
