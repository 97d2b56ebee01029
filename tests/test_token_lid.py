"""Token language ID: rule and script tags, the shipped Hinglish model's measured accuracy (held-out SentiMix,
L3Cube-HingLID; docs/measurements/issue13/tagger.md), deterministic retraining, and a CoNLL round trip."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, SHARED_DATA

from lingotune.core.errors import ModelSourceError
from lingotune.language.conll import read_conll, write_conll
from lingotune.language.token_lid import (
    ASSETS,
    SHIPPED,
    TokenTagger,
    load_tagger,
    rule_tag,
    rule_tags,
    word_key,
)

SENTIMIX = SHARED_DATA / "sentimix2020" / "Hinglish_dev_3k_split_conll.txt"
HINGLID = SHARED_DATA / "l3cube_hinglid" / "validation.first1000.txt"


def _trainer():
    spec = importlib.util.spec_from_file_location("train_token_lid", REPO / "scripts" / "train_token_lid.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def trainer():
    return _trainer()


@pytest.fixture(scope="module")
def tagger() -> TokenTagger:
    return load_tagger("hinglish")


@pytest.fixture(scope="module")
def data(trainer):
    train_set, heldout = trainer.split(read_conll(SENTIMIX, "sentimix_hinglish"))
    return train_set, heldout, read_conll(HINGLID, "l3cube")


@pytest.mark.parametrize(("token", "tag"), [
    ("https://t.co/x7r33meDOs", "other"), ("www.example.com", "other"), ("example.com/page", "other"),
    ("@narendramodi", "other"), ("#IndiaWantsJustice", "other"), ("#कबीर_साहेब", "other"), ("123", "other"),
    ("3.5", "other"), ("₹500", "other"), ("!!", "other"), ("...", "other"), ("😂", "other"), ("😂😂😂", "other"),
    ("❤️", "other"), ("🇮🇳", "other"), ("👍🏽", "other"), ("भाई", "hi"), ("आमि", "hi"), ("আমি", "bn"),
    ("నేను", "te"), ("привет", "ru"), ("وطن", "ar"), ("γεια", "el"), ("東京", "zh"), ("東京へ", "ja"), ("한국", "ko"),
    ("yaar", None), ("hai!!", None), ("Don't", None), ("1st", None), ("𝐡𝐞𝐥𝐥𝐨", None), ("ᏣᎳᎩ", "unk"),
])  # fmt: skip
def test_rule_and_script_tags(token, tag):
    assert rule_tag(token) == tag


def test_model_script_override_and_tagger_uses_the_rules(tagger):
    assert rule_tag("وطن", {"ARABIC": "ur"}) == "ur"
    tokens = ["https://t.co/x", "@user", "#tag", "123", "!!", "😂", "भाई", "وطن", "yaar", "movie", "bahut", "good"]
    assert tagger.tag(tokens) == ["other"] * 6 + ["hi", "ur", "hi", "en", "hi", "en"]


def test_split_handles_are_other_and_can_be_kept():
    tokens = ["@", "Shehla", "_", "Rashid", "bol", "@", "bkunalraj", "#", "Hindi", "yaar", "@", "@", "x"]
    tags = rule_tags(tokens)
    assert [t for t, r in zip(tokens, tags, strict=True) if r is None] == ["bol", "yaar"]
    assert rule_tags(tokens, split_marks=False).count(None) == 7


def test_word_key_normalises():
    assert word_key("Bhaiiiii!!") == "bhaii"
    assert word_key("ＹＡＡＲ") == "yaar"
    assert word_key("hai...") == "hai"


def test_languages_only_gives_model_languages(tagger):
    tags = tagger.tag(["2", "log", "aaye", "the", "meeting", "mein", "😂", "!!", "भाई"], languages_only=True)
    assert set(tags) <= {"hi", "en"} and tags[-1] == "hi"
    assert tagger.tag([]) == [] and tagger.tag_many([]) == []


def test_cache_gives_the_same_tags_cold_warm_and_after_clearing(tagger, data):
    utterances = [u.tokens for u in data[1][:100]]
    small = TokenTagger(tagger.model, cache_size=50)
    first = tagger.tag_many(utterances)
    assert tagger.tag_many(utterances) == first == [small.tag(u) for u in utterances]
    assert small.cached_types <= 50 + max(len(u) for u in utterances) < 1000 < tagger.cached_types


def test_shipped_model_accuracy(tagger, trainer, data):
    """Measured 81.44 % / 87.86 % (held-out SentiMix, all tokens / without split handles) and 90.03 % (HingLID,
    languages only; F1 en 81.2 %) with the Hinglish-TOP silver words and the noise matrix anchored on them (before
    them: 81.71 % / 88.15 % and 88.63 %); majority 47.4 % and 71.1 %. HingLID stays below the ~93.5 % char n-gram
    reference, which was trained on HingLID itself: SentiMix's own tag of a word agrees with HingLID's on only
    89.4 % of tokens."""
    _, heldout, hinglid = data
    result = trainer.evaluate(tagger, heldout, hinglid)
    assert result["sentimix_heldout"]["accuracy"] >= 0.810
    assert result["sentimix_heldout"]["accuracy_without_handles"] >= 0.874
    assert result["sentimix_heldout"]["f1_other"] >= 0.84
    assert result["hinglid"]["accuracy"] >= 0.895
    assert result["hinglid"]["f1_en"] >= 0.80
    assert tagger.model.meta["trainer"] == "scripts/train_token_lid.py"
    assert "Hinglish-TOP" in tagger.model.meta["trained_on"]
    assert (ASSETS / SHIPPED["hinglish"]).stat().st_size < 3_000_000


def test_retraining_on_a_subset_is_deterministic_and_works(trainer, data, tmp_path):
    train_set, heldout, hinglid = data
    subset = train_set[:400]
    lexicon = frozenset({"the", "movie", "good", "please", "love", "this", "is", "you", "what"})
    first = trainer.train(subset, lexicon=lexicon, context=True)
    second = trainer.train(subset, lexicon=lexicon, context=True)
    for name in ("index", "weight", "bias", "context_weight", "context_bias"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
    first.save(tmp_path / "m.npz")
    loaded = load_tagger(tmp_path / "m.npz")
    assert loaded.model.lexicon == lexicon and loaded.model.context_weight is not None
    result = trainer.evaluate(loaded, heldout, hinglid)
    assert result["sentimix_heldout"]["accuracy_without_handles"] >= 0.86  # measured 89.2 %
    assert result["hinglid"]["accuracy"] >= 0.80  # measured 83.8 %


def test_silver_tags_from_english_requests(trainer, tmp_path):
    """A rewrite's word found in its English request is en, one not found hi; names, one-letter words and
    homographs (found by chance in the request although their type mostly is not) are left out (unk)."""
    rows = [
        ("set an alarm for 5 pm", "5 pm ke liye alarm set karo", "[IN:CREATE_ALARM 5 pm ke liye alarm set karo ]"),
        (
            "message Carol that I am late",
            "Carol ko message karo ki I am late",
            "[IN:SEND_MESSAGE [SL:RECIPIENT Carol ] ko message karo ki [SL:CONTENT_EXACT I am late ] ]",
        ),
        (
            "remind me to pick up milk",
            "mujhe milk pickup karne ki yaad dilao",
            "[IN:CREATE_REMINDER mujhe milk pickup karne ki yaad dilao ]",
        ),
        ("what is the weather", "is hafte mausam kaisa hai", "[IN:GET_WEATHER is hafte mausam kaisa hai ]"),
        ("will it be cold", "kya is hafte thand hogi", "[IN:GET_WEATHER kya is hafte thand hogi ]"),
        ("play songs", "is ke songs play karo", "[IN:PLAY_MUSIC is ke songs play karo ]"),
    ]
    path = tmp_path / "top.tsv"
    path.write_text(
        "en_query\tcs_query\ten_parse\tcs_parse\tdomain\n"
        + "".join(f"{en}\t{cs}\t-\t{parse}\tx\n" for en, cs, parse in rows),
        encoding="utf-8",
    )
    silver, stats = trainer.silver_utterances(frozenset({"is", "milk"}), [path])
    tags = [dict(zip(u.tokens, u.tags, strict=True)) for u in silver]
    assert tags[0] == {"5": "other", "pm": "en", "ke": "hi", "liye": "hi", "alarm": "en", "set": "en", "karo": "hi"}
    assert tags[1]["Carol"] == "unk" and tags[1]["I"] == "unk" and tags[1]["late"] == "en"  # name slot, one letter
    assert tags[2]["pickup"] == "en" and tags[2]["milk"] == "en" and tags[2]["mujhe"] == "hi"  # "pick up"
    assert tags[3]["is"] == "unk" and tags[4]["is"] == "hi"  # found by chance once, missing twice
    assert stats["rows"] == 6 and stats["en"] + stats["hi"] + sum(stats["left_out"].values()) == stats["words"]


def test_training_with_silver_words_is_deterministic(trainer, data):
    train_set, _, _ = data
    lexicon = frozenset({"the", "movie", "good", "please", "love", "alarm", "set", "timer"})
    silver, _ = trainer.silver_utterances(lexicon)
    first = trainer.train(train_set[:300], lexicon=lexicon, silver=silver[:500], anchor=True)
    second = trainer.train(train_set[:300], lexicon=lexicon, silver=silver[:500], anchor=True)
    for name in ("index", "weight", "bias"):
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
    without = trainer.train(train_set[:300], lexicon=lexicon)
    assert first.meta["noise_transition"] != without.meta["noise_transition"]  # anchored on the silver tags
    assert TokenTagger(first).tag(["alarm", "set", "karo", "ke", "liye"]) == ["en", "en", "hi", "hi", "hi"]


def test_tagged_utterances_round_trip_through_conll(tagger, data, tmp_path):
    heldout = data[1][:50]
    tagged = tagger.tag_utterances(heldout)
    assert [t.uid for t in tagged] == [u.uid for u in heldout] and tagged[0].tokens == heldout[0].tokens
    write_conll(tagged, tmp_path / "tagged.conll")
    back = read_conll(tmp_path / "tagged.conll", "canonical")
    assert [(u.uid, u.label, u.tokens, u.tags) for u in back] == [(u.uid, u.label, u.tokens, u.tags) for u in tagged]


def test_unknown_model_is_a_clear_error(tmp_path):
    with pytest.raises(ModelSourceError, match="neither a shipped model"):
        load_tagger("klingon")
    bad = Path(tmp_path / "bad.npz")
    bad.write_bytes(b"not a zip")
    with pytest.raises(ModelSourceError, match="not a token language-ID model"):
        load_tagger(bad)


def test_train_tagger_in_domain_beats_the_char_ngram_reference(tmp_path):
    """``lingotune data train-tagger`` on 4/5 of the shared HingLID sentences (NC: a test, nothing shipped), scored on
    the fifth: above the issue's ~93.5 % character n-gram reference, which was trained on HingLID's own (6× larger)
    training split. The shipped model may not train on HingLID, and reaches 89.9 % without it; the gap is the
    domain (docs/measurements/issue13/hinglid_indomain.md: 94.8-95.4 % pooled over 5 folds)."""
    from typer.testing import CliRunner

    from lingotune.cli.app import app
    from lingotune.data.codemix_input import token_accuracy
    from lingotune.language.taggers import tagger_for

    hinglid = read_conll(HINGLID, "l3cube")
    train, held = tmp_path / "train.conll", tmp_path / "held.conll"
    write_conll([u for i, u in enumerate(hinglid) if i % 5], train)
    write_conll(held_out := [u for i, u in enumerate(hinglid) if i % 5 == 0], held)
    model = tmp_path / "hinglid.npz"
    done = CliRunner().invoke(app, ["data", "train-tagger", str(train), "-o", str(model), "--eval", str(held)],
                              env={"COLUMNS": "200"})
    assert done.exit_code == 0, done.output
    assert "hi, en word model" in done.output and "accuracy" in done.output
    tagger = tagger_for(str(model))
    predicted = tagger.tag_many([u.tokens for u in held_out], languages_only=True)  # HingLID has no `other`
    scores = token_accuracy([u.tags for u in held_out], predicted)
    assert scores["accuracy"] > 93.5 and scores["f1_en"] > 85
    assert tagger.model.meta["trainer"] == "lingotune data train-tagger"


def test_train_tagger_needs_two_languages(tmp_path):
    from typer.testing import CliRunner

    from lingotune.cli.app import app

    one = tmp_path / "one.conll"
    one.write_text("hello\ten\nworld\ten\n!\tother\n")
    done = CliRunner().invoke(app, ["data", "train-tagger", str(one), "-o", str(tmp_path / "m.npz")])
    assert done.exit_code != 0 and "two or more languages" in " ".join(done.output.split())
    assert not (tmp_path / "m.npz").exists()
