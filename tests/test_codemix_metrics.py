"""Code-mixing metrics (methods.md §4.1–4.2): the spec's test vectors, properties on real SentiMix and
L3Cube-HingLID tags, short inputs, the vectorised corpus path against the plain-Python one, and Cc."""

from __future__ import annotations

import math
import warnings
from contextlib import contextmanager

import numpy as np
import pytest
from conftest import SHARED_DATA

from lingotune.language.codemix_metrics import (
    METRICS,
    corpus_metrics,
    encode_tags,
    s_index,
    utterance_metrics,
)
from lingotune.language.conll import read_conll
from lingotune.language.tagsets import canonical_tag

SENTIMIX = SHARED_DATA / "sentimix2020" / "Hinglish_dev_3k_split_conll.txt"
HINGLID = SHARED_DATA / "l3cube_hinglid" / "validation.first1000.txt"
needs_data = pytest.mark.skipif(not (SENTIMIX.exists() and HINGLID.exists()), reason="shared SentiMix/HingLID data")

# methods.md §4.1/§4.2 test vector, mapped to canonical tags (EN → en, HI → hi, UNIV → other)
VECTOR = [canonical_tag(t) for t in "EN EN HI HI UNIV UNIV HI HI EN EN EN HI HI".split()]
ZERO_WHEN_MONOLINGUAL = ("s_index", "cmi", "cu", "m_index", "lang_entropy", "i_index", "spf")


@pytest.fixture(scope="module")
def sentimix() -> list[list[str]]:
    return [u.tags for u in read_conll(SENTIMIX, "sentimix_hinglish")]


@pytest.fixture(scope="module")
def hinglid() -> list[list[str]]:
    return [u.tags for u in read_conll(HINGLID)]


@contextmanager
def _strict():
    """Any Python warning is an error, and numpy floating-point errors raise."""
    with warnings.catch_warnings(), np.errstate(all="raise"):
        warnings.simplefilter("error")
        yield


def test_vector_is_the_spec_one():
    assert VECTOR == ["en", "en", "hi", "hi", "other", "other", "hi", "hi", "en", "en", "en", "hi", "hi"]


def test_s_index_vectors():
    # language-only: P = 3, N = 11, N_max = 6 → tanh(1.5)·ln(11/6)
    m = utterance_metrics(VECTOR)
    assert (m["switch_points"], m["language_tokens"], m["matrix_count"]) == (3, 11, 6)
    assert m["s_index"] == pytest.approx(0.5486, abs=5e-5)
    assert m["s_index"] == pytest.approx(math.tanh(1.5) * math.log(11 / 6), rel=1e-12)
    assert s_index(VECTOR) == pytest.approx(0.5486, abs=5e-5)
    # Absar's code: all tags are languages (N = 13, P = 5), then its N + 2
    assert s_index(VECTOR, count_nonlang=True) == pytest.approx(0.7628, abs=5e-5)
    assert s_index(VECTOR, count_nonlang=True, bos_eos_offset=2) == pytest.approx(0.9040, abs=5e-5)
    compat = utterance_metrics(VECTOR, mode="absar2025")
    assert (compat["switch_points"], compat["language_tokens"], compat["matrix_count"]) == (5, 13, 6)
    # Absar's CS index = (0.5·(N − N_max) + 0.5·P) / N = Cu / 100 = 6/13
    assert compat["cu"] / 100 == pytest.approx(0.4615, abs=5e-5)
    assert compat["cu"] / 100 == pytest.approx(6 / 13, rel=1e-12)


def test_s_index_compat_on_a_corpus_with_absar_first_utterance_quirk():
    # Absar's script adds 2 to N for every utterance but the first: a per-utterance offset reproduces it
    r = corpus_metrics([VECTOR, VECTOR, VECTOR], mode="absar2025", bos_eos_offset=[0, 2, 2])
    np.testing.assert_allclose(r.per_utterance["s_index"], [0.7628, 0.9040, 0.9040], atol=5e-5)
    np.testing.assert_allclose(r.per_utterance["cu"] / 100, 6 / 13, rtol=1e-12)
    assert corpus_metrics([VECTOR]).per_utterance["s_index"][0] == pytest.approx(0.5486, abs=5e-5)
    with pytest.raises(ValueError, match="bos_eos_offset"):
        corpus_metrics([VECTOR, VECTOR], bos_eos_offset=[0, 2, 2])
    with pytest.raises(ValueError, match="mode"):
        corpus_metrics([VECTOR], mode="absar")


@pytest.mark.parametrize("vectorised", [False, True])
def test_standard_metric_vectors(vectorised):
    if vectorised:
        r = corpus_metrics([VECTOR])
        m = {k: float(v[0]) for k, v in r.per_utterance.items()}
        sample = float(corpus_metrics([VECTOR], ddof=1).per_utterance["burstiness"][0])
        dropped = float(corpus_metrics([VECTOR], drop_last_span=True).per_utterance["burstiness"][0])
    else:
        m = utterance_metrics(VECTOR)
        sample = utterance_metrics(VECTOR, ddof=1)["burstiness"]
        dropped = utterance_metrics(VECTOR, drop_last_span=True)["burstiness"]
    assert m["cmi"] == pytest.approx(45.4545, abs=5e-5)
    assert m["cu"] == pytest.approx(36.3636, abs=5e-5)
    assert m["m_index"] == pytest.approx(0.98361, abs=5e-6)
    assert m["lang_entropy"] == pytest.approx(0.99403, abs=5e-6)
    assert m["i_index"] == m["spf"] == pytest.approx(0.3, abs=1e-12)
    assert m["spans"] == 4  # spans [2, 4, 3, 2]
    assert m["burstiness"] == pytest.approx(-0.53668, abs=5e-6)  # population σ (Guzmán's metrics.py)
    assert sample == pytest.approx(-0.48351, abs=5e-6)  # sample σ (cs_metrics' README value)
    # [:-1] variant: spans [2, 4, 3], mean 3, population σ = sqrt(2/3)
    assert dropped == pytest.approx((math.sqrt(2 / 3) - 3) / (math.sqrt(2 / 3) + 3), rel=1e-12)
    assert m["memory"] == pytest.approx(-0.5, abs=1e-12)
    assert m["span_entropy"] == pytest.approx(1.5, abs=1e-12)


@pytest.mark.parametrize("tags", [["en"] * 5, ["hi", "other", "hi", "ne", "hi"], ["es", "es", "mixed", "es"], ["xx"]])
def test_monolingual_gives_zero(tags):
    for m in (utterance_metrics(tags), {k: float(v[0]) for k, v in corpus_metrics([tags]).per_utterance.items()}):
        assert all(m[name] == 0.0 for name in ZERO_WHEN_MONOLINGUAL), m
        assert m["switch_points"] == 0 and m["spans"] == 1 and m["span_entropy"] == 0.0
        assert math.isnan(m["burstiness"]) and math.isnan(m["memory"])


SHORT = [
    # tags, expected (name → value; NaN means undefined)
    ([], {"s_index": 0, "cmi": 0, "cu": 0, "m_index": 0, "lang_entropy": 0, "i_index": 0, "spans": 0,
          "burstiness": math.nan, "memory": math.nan, "span_entropy": 0}),
    (["other", "ne", "unk"], {"language_tokens": 0, "cmi": 0, "cu": 0, "s_index": 0, "burstiness": math.nan}),
    (["en"], {"language_tokens": 1, "i_index": 0, "spf": 0, "spans": 1, "burstiness": math.nan, "memory": math.nan}),
    (["other", "en", "other"], {"language_tokens": 1, "cmi": 0, "i_index": 0, "span_entropy": 0}),
    (["en", "hi"], {"s_index": math.tanh(0.5) * math.log(2), "cmi": 50, "cu": 50, "m_index": 1, "lang_entropy": 1,
                    "i_index": 1, "burstiness": -1, "memory": math.nan, "span_entropy": 0}),
    # three spans of equal length: σ = 0, so memory is undefined; burstiness (0 − 1)/(0 + 1)
    (["en", "hi", "other", "en"], {"switch_points": 2, "spans": 3, "burstiness": -1, "memory": math.nan}),
    # spans [2, 3, 1]: pairs (2,3), (3,1): m1 = 2.5, m2 = 2, cov = −0.5, σ1 = 0.5, σ2 = 1 → −1
    (["en", "en", "hi", "hi", "hi", "en"], {"memory": -1.0, "span_entropy": math.log2(3)}),
]


@pytest.mark.parametrize(("tags", "expected"), SHORT)
def test_short_inputs_are_defined_and_silent(tags, expected):
    with _strict():
        one = utterance_metrics(tags)
        many = corpus_metrics([tags, tags])
        alone = corpus_metrics([tags])
    for name, value in expected.items():
        for got in (one[name], *many.per_utterance[name], alone.per_utterance[name][0]):
            if math.isnan(value):
                assert math.isnan(got), (name, got)
            else:
                assert got == pytest.approx(value, abs=1e-12), (name, got)
    for name in METRICS:
        if name not in ("burstiness", "memory"):
            assert math.isfinite(one[name]), name


def test_empty_corpora_are_defined_and_silent():
    with _strict():
        nothing = corpus_metrics([])
        blank = corpus_metrics([[], ["other"], []])
    assert nothing.summary["utterances"] == 0 and nothing.summary["cc"] == 0.0
    assert all(len(v) == 0 for v in nothing.per_utterance.values())
    assert blank.summary["cc"] == 0.0 and blank.summary["switched_share"] == 0.0
    assert blank.summary["mean_cmi"] == 0.0 and math.isnan(blank.summary["mean_burstiness"])
    assert blank.summary["defined_burstiness"] == 0 and blank.languages == ()


def test_languages_option_restricts_the_counted_tags():
    tags = ["en", "es", "en", "hi", "hi"]
    restricted = utterance_metrics(tags, languages={"en", "hi"})
    assert restricted["language_tokens"] == 4 and restricted["switch_points"] == 1  # es skipped: en en | hi hi
    assert utterance_metrics(tags)["switch_points"] == 3
    assert corpus_metrics([tags], languages={"en", "hi"}).languages == ("en", "hi")


def test_encode_tags_offsets():
    enc = encode_tags([["hi", "en"], [], ["other"]])
    assert enc.vocab == ("en", "hi", "other") and enc.offsets.tolist() == [0, 2, 2, 3]
    assert enc.ids.tolist() == [1, 0, 2] and enc.n_utterances == 3
    assert corpus_metrics(enc).per_utterance["cmi"].tolist() == [50.0, 0.0, 0.0]


# Cc on a hand-computed corpus (Gambäck & Das 2016, Gambäck's code). Per utterance x, v(x) = 1 − (max t − P)/N:
#   u1 en en hi      : N 3, max 2 (en), P 1 → v 2/3; matrix en; first matrix → δ 0; mixed
#   u2 hi hi en      : N 3, max 2 (hi), P 1 → v 2/3; matrix hi ≠ en → δ 1; mixed
#   u3 en hi         : tie → matrix stays hi (tie rule) → δ 0; max 1, P 1 → v 1; mixed
#   u4 other other   : N 0 → not mixed; matrix stays hi
#   u5 hi hi hi      : monolingual, not mixed; matrix hi → δ 0
#   u6 en en en hi   : matrix en ≠ hi → δ 1; N 4, max 3, P 1 → v 1/2; mixed
# U = 6, S = 4: Σ_mixed (v + δ) = (2/3 + 0) + (2/3 + 1) + (1 + 0) + (1/2 + 1) = 29/6
# Cc = 100/6 · (½ · 29/6 + 5/6 · 4) = 100/6 · 69/12 = 95.8333…
# (breaking u3's tie by tag order instead would give u3 δ = 1 and Cc = 104.1667)
CC_CORPUS = [["en", "en", "hi"], ["hi", "hi", "en"], ["en", "hi"], ["other", "other"], ["hi", "hi", "hi"],
             ["en", "en", "en", "hi"]]


def test_cc_hand_computed():
    r = corpus_metrics(CC_CORPUS)
    assert r.per_utterance["inter_switch"].tolist() == [0, 1, 0, 0, 0, 1]
    assert r.summary["cc"] == pytest.approx(100 / 6 * 69 / 12, rel=1e-12)
    assert r.summary["inter_utterance_switches"] == 2
    assert r.summary["switched_share"] == pytest.approx(4 / 6)
    assert r.summary["mean_cu_mixed"] == pytest.approx(100 / 2 * (2 / 3 + 2 / 3 + 1 + 1 / 2) / 4)
    for rename in ({"en": "hi", "hi": "en"}, {"en": "zu", "hi": "ab"}):
        renamed = [[rename.get(t, t) for t in u] for u in CC_CORPUS]
        assert corpus_metrics(renamed).summary["cc"] == pytest.approx(r.summary["cc"], rel=1e-12)


def test_corpus_level_summary_hand_computed():
    s = corpus_metrics([["en", "en", "other"], ["hi"]]).summary
    # en 2, hi 1: Σp² = 5/9 → M = (1 − 5/9)/(5/9) = 0.8; LE = H(2/3, 1/3)
    assert s["m_index"] == pytest.approx(0.8, rel=1e-12) and s["languages"] == 2
    assert s["lang_entropy"] == pytest.approx(-(2 / 3 * math.log2(2 / 3) + 1 / 3 * math.log2(1 / 3)), rel=1e-12)
    assert s["switched_share"] == 0.0 and s["i_index"] == 0.0 and s["mean_m_index"] == 0.0
    assert (s["tokens"], s["language_tokens"], s["utterances"]) == (4, 3, 2)


@needs_data
@pytest.mark.parametrize("options", [{}, {"mode": "absar2025", "bos_eos_offset": 2}, {"ddof": 1},
                                     {"drop_last_span": True}, {"mu": 0.3, "lam": 2.0}])
def test_vectorised_equals_per_utterance(sentimix, hinglid, options):
    for corpus in (sentimix, hinglid):
        r = corpus_metrics(corpus, **options)
        reference = [utterance_metrics(tags, **options) for tags in corpus]
        for name in (*METRICS, "tokens", "language_tokens", "languages", "switch_points", "spans", "matrix_count"):
            np.testing.assert_allclose(r.per_utterance[name], [m[name] for m in reference], rtol=1e-10, atol=1e-12,
                                       equal_nan=True, err_msg=name)
        for name in METRICS:
            defined = [m[name] for m in reference if not math.isnan(m[name])]
            assert r.summary[f"mean_{name}"] == pytest.approx(sum(defined) / len(defined), rel=1e-9)


@needs_data
def test_symmetric_under_renaming_languages(sentimix):
    base = corpus_metrics(sentimix)
    for rename in ({"en": "hi", "hi": "en"}, {"en": "es", "hi": "xx"}, {"en": "xx", "hi": "aa"}):
        renamed = corpus_metrics([[rename.get(t, t) for t in u] for u in sentimix])
        for name, values in base.per_utterance.items():
            np.testing.assert_array_equal(renamed.per_utterance[name], values, err_msg=name)
        assert renamed.summary == pytest.approx(base.summary, nan_ok=True)
    assert base.summary["inter_utterance_switches"] > 0  # the matrix language does change, so δ is exercised


@needs_data
def test_bounds_on_real_sentimix(sentimix):
    r = corpus_metrics(sentimix).per_utterance
    assert len(r["cmi"]) == 3000
    k = r["languages"]
    eps = 1e-12
    assert k.min() >= 1
    assert np.all(r["cmi"] >= 0) and np.all(r["cmi"] <= 100 * (1 - 1 / k) + eps)
    assert np.all((r["m_index"] >= 0) & (r["m_index"] <= 1))
    assert np.all((r["i_index"] >= 0) & (r["i_index"] <= 1))
    assert np.all((r["lang_entropy"] >= 0) & (r["lang_entropy"] <= np.log2(k) + eps))
    burst = r["burstiness"][~np.isnan(r["burstiness"])]
    assert len(burst) > 2000 and np.all((burst >= -1) & (burst <= 1))
    memory = r["memory"][~np.isnan(r["memory"])]
    assert len(memory) > 2000 and np.all((memory >= -1 - eps) & (memory <= 1 + eps))
    assert np.all(r["s_index"] >= 0) and np.all(r["s_index"] <= np.log(k) + eps)
    assert np.all((r["cu"] >= 0) & (r["cu"] <= 100))
    # the bounds are not vacuous: the corpus reaches both ends of several of them
    assert r["cmi"].max() == pytest.approx(50.0) and r["m_index"].max() == pytest.approx(1.0)
    assert r["i_index"].max() > 0.5 and r["s_index"].max() > 0.5 * np.log(2)


@needs_data
def test_real_corpus_summaries(sentimix, hinglid):
    s = corpus_metrics(sentimix).summary
    assert (s["utterances"], s["tokens"], s["language_tokens"]) == (3000, 78678, 62619)
    h = corpus_metrics(hinglid).summary
    assert (h["utterances"], h["tokens"], h["language_tokens"]) == (1000, 31174, 31174)
    for summary in (s, h):
        assert 0 < summary["mean_cmi"] < 50 and 0 < summary["m_index"] <= 1 and 0 < summary["switched_share"] <= 1
        assert summary["switched_share"] == pytest.approx(summary["mean_cu"] / summary["mean_cu_mixed"])
