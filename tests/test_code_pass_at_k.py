"""pass@k: methods.md §5.3's test vectors, the closed form it is a stable rewrite of, and the n ≥ k rule."""

from __future__ import annotations

import itertools
from math import comb

import pytest

from lingotune.eval.code_exec.pass_at_k import (
    count_passes,
    mean_pass_at_k,
    pass_at_k,
    pass_at_k_per_problem,
    reported_ks,
)


@pytest.mark.parametrize(("n", "c", "k", "expected"), [(200, 10, 1, 0.05), (200, 10, 10, 0.408548),
                                                       (10, 3, 5, 0.916667)])
def test_methods_test_vectors(n, c, k, expected):
    assert pass_at_k(n, c, k) == pytest.approx(expected, abs=5e-7)


def test_equals_the_binomial_form_everywhere_small():
    for n in range(1, 13):
        for c, k in itertools.product(range(n + 1), range(1, n + 1)):
            exact = 1 - comb(n - c, k) / comb(n, k)
            assert pass_at_k(n, c, k) == pytest.approx(exact, abs=1e-12), (n, c, k)


def test_edges():
    assert pass_at_k(5, 0, 1) == 0.0
    assert pass_at_k(5, 5, 5) == 1.0
    assert pass_at_k(10, 8, 3) == 1.0  # n - c < k: every draw of 3 holds a correct sample
    assert pass_at_k(1, 1, 1) == 1.0 and pass_at_k(1, 0, 1) == 0.0
    assert pass_at_k(200, 10, 1) == pytest.approx(10 / 200)  # pass@1 is the pass rate


@pytest.mark.parametrize(("n", "c", "k"), [(5, 6, 1), (5, -1, 1), (5, 2, 0), (5, 2, 6)])
def test_invalid_counts_are_refused(n, c, k):
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_mean_only_when_every_problem_has_k_samples():
    counts = {"a": (10, 3), "b": (10, 0), "c": (10, 10)}
    assert mean_pass_at_k(counts, 1) == pytest.approx((0.3 + 0 + 1) / 3)
    assert mean_pass_at_k(counts, 5) == pytest.approx((0.916667 + 0 + 1) / 3, abs=1e-6)
    assert pass_at_k_per_problem(counts, 5)["a"] == pytest.approx(0.916667, abs=1e-6)
    assert mean_pass_at_k({**counts, "d": (4, 1)}, 5) is None
    assert mean_pass_at_k({}, 1) is None
    assert reported_ks({**counts, "d": (4, 1)}, (1, 5, 10)) == [1]
    assert reported_ks(counts, (1, 5, 10, 100)) == [1, 5, 10]


def test_count_passes():
    samples = [("a", True), ("a", False), ("b", False), ("a", True)]
    assert count_passes(samples) == {"a": (3, 2), "b": (1, 0)}
