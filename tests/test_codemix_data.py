"""Synthetic code-mixing from NTREX + MUSE en–es, and samples balanced across switching levels."""

from __future__ import annotations

import random
from collections import Counter

import numpy as np
import pytest
from conftest import SHARED_DATA

from lingotune.core.errors import DataError, RecipeError
from lingotune.data.codemix_balance import level_labels, sample_by_level, switching_levels
from lingotune.data.codemix_synthetic import build_synthetic_codemix, code_mix, read_dictionary
from lingotune.language.conll import read_conll

MUSE_EN_ES = SHARED_DATA / "bilingual_dictionaries" / "muse_full" / "en-es.muse.tsv"  # NC: tests only
NTREX = SHARED_DATA / "ntrex128"


@pytest.fixture(scope="module")
def en_es():
    return read_dictionary(str(MUSE_EN_ES))


@pytest.fixture(scope="module")
def ntrex_pairs():
    src = (NTREX / "newstest2019-src.eng.first1000.txt").read_text(encoding="utf-8").splitlines()
    tgt = (NTREX / "newstest2019-ref.spa.first1000.txt").read_text(encoding="utf-8").splitlines()
    return list(zip(src[:300], tgt[:300], strict=True))


def test_rate_zero_leaves_the_sentence_and_tags_it(en_es):
    sentence = "On Monday, Dr. Smith paid 1,250 dollars (about 40%) for the old house!"
    mixed = code_mix(sentence, en_es, matrix="en", embedded="es", rate=0.0, rng=random.Random(0))
    assert mixed.text == sentence and mixed.achieved_rate == 0.0
    tags = dict(zip(mixed.utterance.tokens, mixed.utterance.tags, strict=True))
    assert tags["Monday"] == "ne" and tags["Smith"] == "ne" and tags["1,250"] == "other" and tags["("] == "other"
    assert tags["On"] == "en" and tags["house"] == "en"


def test_spacing_punctuation_numbers_and_names_survive_replacement(en_es):
    sentence = "The old house of Maria, near the river, cost 300 dollars."
    mixed = code_mix(sentence, en_es, matrix="en", embedded="es", rate=1.0, rng=random.Random(1))
    assert mixed.text.startswith(("El ", "La ", "Los ", "Las ")), mixed.text  # sentence case kept
    assert "Maria," in mixed.text and " 300 " in mixed.text and mixed.text.endswith(".")
    assert mixed.text.count(",") == 2 and "  " not in mixed.text
    assert mixed.achieved_rate > 0.6
    assert Counter(mixed.utterance.tags)["ne"] == 1


def test_parallel_sentence_picks_the_sense_used_there(en_es):
    # MUSE lists several Spanish words for "bank"; the parallel sentence decides
    sentence = "the bank is closed"
    parallel = "el banco está cerrado"
    mixed = code_mix(sentence, en_es, matrix="en", embedded="es", rate=1.0, rng=random.Random(0), parallel=parallel)
    assert "banco" in mixed.text.split() and "cerrado" in mixed.text.split()
    upper = code_mix("THE BANK", en_es, matrix="en", embedded="es", rate=1.0, rng=random.Random(0),
                     parallel=parallel)
    assert upper.text in {"EL BANCO", "THE BANCO"}


def test_achieved_share_follows_the_requested_rate_on_ntrex(en_es, ntrex_pairs):
    means = []
    for rate in (0.1, 0.3, 0.5):
        mixed = build_synthetic_codemix(ntrex_pairs, en_es, matrix="en", embedded="es", rate=rate, seed=3)
        shares = []
        for m in mixed:
            lang = [t for t in m.utterance.tags if t in ("en", "es")]
            shares.append(lang.count("es") / len(lang) if lang else 0.0)
        means.append(float(np.mean(shares)))
        assert abs(np.mean([m.achieved_rate for m in mixed]) - rate) < 0.05, (rate, means)
    assert means[0] < means[1] < means[2]


def test_same_seed_same_output_and_longer_spans_switch_less(en_es, ntrex_pairs):
    a = build_synthetic_codemix(ntrex_pairs[:50], en_es, matrix="en", embedded="es", rate=0.3, seed=5)
    b = build_synthetic_codemix(ntrex_pairs[:50], en_es, matrix="en", embedded="es", rate=0.3, seed=5)
    assert [m.text for m in a] == [m.text for m in b]

    def switches(mixed):
        total = 0
        for m in mixed:
            lang = [t for t in m.utterance.tags if t in ("en", "es")]
            total += sum(x != y for x, y in zip(lang, lang[1:], strict=False))
        return total

    spans = build_synthetic_codemix(ntrex_pairs, en_es, matrix="en", embedded="es", rate=0.3, seed=5, mean_span=4)
    words = build_synthetic_codemix(ntrex_pairs, en_es, matrix="en", embedded="es", rate=0.3, seed=5)
    assert switches(spans) < 0.8 * switches(words)  # runs stop at words the dictionary lacks


def test_dictionary_errors_name_file_and_line(tmp_path):
    bad = tmp_path / "d.tsv"
    bad.write_text("house\tcasa\nthree words here\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"d.tsv:2: expected 'source<TAB>target'"):
        read_dictionary(str(bad))
    wiktionary = SHARED_DATA / "bilingual_dictionaries" / "wiktionary_bli" / "es-en.test.tsv"
    reverse = read_dictionary(str(wiktionary), reverse=True)  # its line 2886 "tuso<TAB>" is skipped, said
    assert "him" in reverse and "le" in reverse["him"]
    assert "" not in reverse and not any("" in translations for translations in reverse.values())


def test_levels_are_half_open_with_monolingual_alone():
    assert level_labels((0.0, 0.15, 0.35)) == ["= 0", "(0, 0.15]", "(0.15, 0.35]", "> 0.35"]
    assert switching_levels([0.0, 1e-9, 0.15, 0.1500001, 0.35, 0.9]).tolist() == [0, 1, 1, 2, 2, 3]
    with pytest.raises(RecipeError, match="increase strictly"):
        switching_levels([0.1], (0.0, 0.3, 0.2))


def test_balanced_sample_evens_levels_and_reports_shortfall():
    scores = [0.0] * 50 + [0.1] * 10 + [0.2] * 100 + [0.5] * 300
    sample = sample_by_level(scores, 100, seed=0)
    assert len(sample.indices) == len(set(sample.indices)) == 100
    assert sample.available == [50, 10, 100, 300]
    assert sample.drawn == [30, 10, 30, 30]  # the short level gives its 10, the rest share its shortfall
    drawn_levels = Counter(switching_levels([scores[i] for i in sample.indices]).tolist())
    assert [drawn_levels[k] for k in range(4)] == sample.drawn
    assert "| (0, 0.15] | 10 | 0.25 | 10 | 0.10 |" in sample.table()
    skewed = sample_by_level(scores, 100, target={"= 0": 1, "> 0.35": 3}, seed=0)
    assert skewed.drawn == [25, 0, 0, 75]
    with pytest.raises(RecipeError, match="levels are"):
        sample_by_level(scores, 10, target={"high": 1})
    with pytest.raises(RecipeError, match="4 levels"):
        sample_by_level(scores, 10, target=[1, 1])


def test_real_corpus_is_dominated_by_one_level_and_balancing_changes_that():
    """On SentiMix the raw distribution is skewed: balancing must move it toward uniform."""
    utterances = read_conll(SHARED_DATA / "sentimix2020" / "Hinglish_dev_3k_split_conll.txt", "sentimix_hinglish")
    # share of language tokens not in the matrix language: a simple switching score for this test
    scores = []
    for u in utterances:
        lang = [t for t in u.tags if t in ("hi", "en")]
        top = max(Counter(lang).values()) if lang else 0
        scores.append(1 - top / len(lang) if lang else 0.0)
    edges = (0.0, 0.15, 0.3)
    before = np.bincount(switching_levels(scores, edges), minlength=4) / len(scores)
    sample = sample_by_level(scores, 600, edges=edges, seed=0)
    after = np.asarray(sample.drawn) / sum(sample.drawn)
    # SentiMix: no monolingual tweet by this score, few lightly mixed ones, most heavily mixed
    assert before[0] == 0 and before[1] < 0.1 and before[2:].sum() > 0.9
    assert after[0] == 0 and after[1] > 2 * before[1]
    assert np.abs(after - 1 / 3)[1:].sum() < np.abs(before - 1 / 3)[1:].sum() / 2
