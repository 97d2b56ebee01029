"""Splitting, sampling, mixing (deterministic, leak-free, exact counts) and per-language statistics."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from lingotune.core.errors import LingotuneError
from lingotune.data.example import Example
from lingotune.data.loaders import load_squad
from lingotune.data.mix import allocate, choose_articles, mix, sample, split_examples, split_squad_by_article
from lingotune.data.stats import compute_stats, count_words, format_stats_table, word_unit

QUICKSTART = Path(__file__).resolve().parent.parent / "data" / "quickstart"


def make(n: int, language: str = "es", prefix: str = "x") -> list[Example]:
    return [
        Example(
            [{"role": "user", "content": f"{prefix}{i}"}, {"role": "assistant", "content": "ok"}],
            language,
            "test",
            {"index": i},
        )
        for i in range(n)
    ]


def ids(examples: list[Example]) -> list[str]:
    return [e.messages[0]["content"] for e in examples]


# ------------------------------------------------------------------------------------------------ split
def test_split_examples_fraction_and_count() -> None:
    examples = make(20)
    kept, held = split_examples(examples, 0.25, seed=3)
    assert (len(kept), len(held)) == (15, 5)
    assert sorted(ids(kept) + ids(held)) == sorted(ids(examples))
    assert ids(kept) == [i for i in ids(examples) if i in set(ids(kept))]  # input order kept
    assert split_examples(examples, 0.25, seed=3) == (kept, held)
    assert len(split_examples(examples, 7, seed=3)[1]) == 7
    assert split_examples(examples, 0.25, seed=4)[1] != held
    for bad in (1.5, 21, -1, True):
        with pytest.raises(LingotuneError):
            split_examples(examples, bad)


def test_choose_articles_is_the_documented_shuffle() -> None:
    import random

    order = list(range(48))
    random.Random(0).shuffle(order)
    assert choose_articles(48, 8, 0) == sorted(order[:8])


def test_split_squad_by_article_never_leaks() -> None:
    examples = load_squad(QUICKSTART / "xquad" / "xquad.en.train.json", "en")
    train, evaluation = split_squad_by_article(examples, 5, seed=1)
    train_titles, eval_titles = {e.meta["title"] for e in train}, {e.meta["title"] for e in evaluation}
    assert len(eval_titles) == 5 and len(train_titles) == 35 and not train_titles & eval_titles
    assert {e.meta["context"] for e in train}.isdisjoint({e.meta["context"] for e in evaluation})
    assert len(train) + len(evaluation) == len(examples)
    assert split_squad_by_article(examples, 5, seed=1) == (train, evaluation)
    with pytest.raises(LingotuneError):
        split_squad_by_article(examples, 40, seed=1)
    with pytest.raises(LingotuneError, match="meta\\['title'\\]"):
        split_squad_by_article(make(3), 1)


def test_quickstart_xquad_split_matches_the_readme() -> None:
    """The committed eval files are exactly the articles split_squad_by_article picks on the full file."""
    train = load_squad(QUICKSTART / "xquad" / "xquad.es.train.json", "es")
    evaluation = load_squad(QUICKSTART / "xquad" / "xquad.es.eval.json", "es")
    assert {e.meta["title"] for e in train}.isdisjoint({e.meta["title"] for e in evaluation})
    assert len({e.meta["title"] for e in evaluation}) == 8 and len({e.meta["title"] for e in train}) == 40
    readme = (QUICKSTART / "xquad" / "README.md").read_text("utf-8")
    for title in {e.meta["title"] for e in evaluation}:
        assert title in readme


# ----------------------------------------------------------------------------------------------- sample
def test_sample_without_and_with_replacement() -> None:
    examples = make(10)
    few = sample(examples, 4, seed=0)
    assert len(set(ids(few))) == 4 and few == sample(examples, 4, seed=0)
    many = sample(examples, 25, seed=0)
    counts = Counter(ids(many))
    assert len(many) == 25 and set(counts.values()) <= {2, 3} and sum(v == 3 for v in counts.values()) == 5
    assert ids(many) == ids(sample(examples, 25, seed=0))
    assert sample(examples, 0, seed=0) == []
    with pytest.raises(LingotuneError):
        sample([], 3, seed=0)


# -------------------------------------------------------------------------------------------------- mix
def test_allocate_largest_remainder() -> None:
    assert allocate({"a": 1, "b": 1, "c": 1}, 10) == {"a": 4, "b": 3, "c": 3}
    assert allocate({"a": 0.5, "b": 0.3, "c": 0.2}, 7) == {"a": 4, "b": 2, "c": 1}  # 3.5, 2.1, 1.4
    assert sum(allocate({"a": 0.1, "b": 0.7, "c": 0.2}, 1001).values()) == 1001
    assert allocate({"a": 1, "b": 0}, 5) == {"a": 5, "b": 0}
    for bad in ({"a": -1}, {"a": 0}, {"a": float("nan")}):
        with pytest.raises(LingotuneError):
            allocate(bad, 5)


def test_mix_counts_tags_and_determinism() -> None:
    sources = {"es": make(30, "es", "es"), "en": make(5, "en", "en"), "sw": make(8, "sw", "sw")}
    mixed = mix(sources, {"es": 0.6, "en": 0.3, "sw": 0.1}, 40, seed=7)
    assert len(mixed) == 40
    assert Counter(e.meta["mix_source"] for e in mixed) == {"es": 24, "en": 12, "sw": 4}
    assert all(e.meta["mix_source"] == e.language for e in mixed)
    assert all("mix_source" not in e.meta for group in sources.values() for e in group)  # inputs untouched
    assert ids(mixed) == ids(mix(sources, {"es": 0.6, "en": 0.3, "sw": 0.1}, 40, seed=7))
    assert ids(mixed) != ids(mix(sources, {"es": 0.6, "en": 0.3, "sw": 0.1}, 40, seed=8))
    assert [e.meta["mix_source"] for e in mixed[:10]] != sorted(e.meta["mix_source"] for e in mixed[:10])
    with pytest.raises(LingotuneError, match="missing"):
        mix(sources, {"es": 1.0}, 10, seed=0)
    with pytest.raises(LingotuneError, match="no examples"):
        mix({"es": [], "en": make(2)}, {"es": 1, "en": 1}, 4, seed=0)


# ------------------------------------------------------------------------------------------------ stats
def tiny_tokenizer():
    """Word-level, with punctuation split off as its own token: fertility is countable by hand."""
    tokenizers = pytest.importorskip("tokenizers")
    from transformers import PreTrainedTokenizerFast

    vocab = {"[UNK]": 0, "hola": 1, "mundo": 2, "buenos": 3, "días": 4, "你": 5, "好": 6, "世界": 7}
    model = tokenizers.models.WordLevel(vocab, unk_token="[UNK]")
    tok = tokenizers.Tokenizer(model)
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]")


def test_word_units() -> None:
    assert word_unit("zh-Hans") == word_unit("ja") == word_unit("tha") == "character"
    assert word_unit("es") == word_unit("sw") == "whitespace"
    assert count_words("你好 世界", "zh") == 4 and count_words("  hola   mundo ", "es") == 2


def test_stats_counts_and_fertility() -> None:
    es = Example(
        [{"role": "user", "content": "hola, mundo"}, {"role": "assistant", "content": "buenos días amigo"}],
        "es",
        "t",
    )
    zh = Example([{"role": "user", "content": "你 好 世界"}], "zh", "t")
    stats = compute_stats([es, es, zh], tokenizer=tiny_tokenizer())
    spanish, chinese = stats["languages"]["es"], stats["languages"]["zh"]
    # es, per example: 2 + 3 words; tokens "hola" "," "mundo" | "buenos" "días" [UNK] = 6 → 12 / 10 words.
    assert spanish == {
        "examples": 2,
        "words": 10,
        "characters": 2 * (11 + 17),
        "word_unit": "whitespace",
        "tokens": 12,
        "fertility": 1.2,
    }
    # zh: 4 characters (the word unit) and 3 tokens (你, 好, 世界): 0.75 tokens per character.
    assert (chinese["words"], chinese["tokens"], chinese["word_unit"]) == (4, 3, "character")
    assert chinese["fertility"] == pytest.approx(0.75)
    assert stats["total"] == {"examples": 3, "words": 14, "characters": 56 + 6, "tokens": 15}


def test_stats_without_tokenizer_and_table() -> None:
    from rich.console import Console

    stats = compute_stats(make(3, "sw") + make(1, "ja"))
    assert "tokens" not in stats["languages"]["sw"] and stats["tokenizer"] is None
    console = Console(record=True, width=120)
    console.print(format_stats_table(stats))
    text = console.export_text()
    assert "ja*" in text and "sw" in text and "characters" in text and "total" in text
    with_tokens = Console(record=True, width=120)
    with_tokens.print(format_stats_table(compute_stats(make(2), tokenizer=tiny_tokenizer())))
    assert "Tokens/word" in with_tokens.export_text()
