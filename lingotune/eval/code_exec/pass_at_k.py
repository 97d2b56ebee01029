"""pass@k with the unbiased estimator of Chen et al. 2021 (arXiv 2107.03374, §2.1; methods.md §5.3).

Per problem with ``n`` samples of which ``c`` pass: ``1 - C(n-c, k) / C(n, k)``, computed as
``1 - prod_{i=n-c+1}^{n} (1 - k/i)`` (no huge binomials), 1.0 when ``n - c < k``. The benchmark's pass@k is the
mean over problems and exists only when every problem has at least ``k`` samples: drawing fewer than ``k``
says nothing about k tries (HumanEval-XL's harness also leaves such k out).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence


def pass_at_k(n: int, c: int, k: int) -> float:
    """The probability that at least one of ``k`` samples drawn without replacement from ``n`` (``c``
    correct) passes. ValueError unless ``0 <= c <= n`` and ``1 <= k <= n``."""
    if not 0 <= c <= n:
        raise ValueError(f"need 0 <= c <= n, got n={n}, c={c}")
    if not 1 <= k <= n:
        raise ValueError(f"pass@{k} needs at least {k} samples per problem, got n={n}")
    if n - c < k:
        return 1.0
    product = 1.0
    for i in range(n - c + 1, n + 1):
        product *= 1.0 - k / i
    return 1.0 - product


def pass_at_k_per_problem(counts: Mapping[str, tuple[int, int]], k: int) -> dict[str, float]:
    """``{task_id: (n, c)}`` → ``{task_id: pass@k}``."""
    return {task: pass_at_k(n, c, k) for task, (n, c) in counts.items()}


def mean_pass_at_k(counts: Mapping[str, tuple[int, int]], k: int) -> float | None:
    """Mean pass@k over problems; None when some problem has fewer than ``k`` samples (or there are none)."""
    if not counts or any(n < k for n, _ in counts.values()):
        return None
    scores = pass_at_k_per_problem(counts, k)
    return sum(scores.values()) / len(scores)


def count_passes(results: Iterable[tuple[str, bool]]) -> dict[str, tuple[int, int]]:
    """``(task_id, passed)`` pairs, one per sample → ``{task_id: (n, c)}``."""
    counts: dict[str, list[int]] = {}
    for task, passed in results:
        n_c = counts.setdefault(task, [0, 0])
        n_c[0] += 1
        n_c[1] += bool(passed)
    return {task: (n, c) for task, (n, c) in counts.items()}


def reported_ks(counts: Mapping[str, tuple[int, int]], ks: Sequence[int] = (1, 10, 100)) -> list[int]:
    """The ks that can be reported: every problem has at least k samples."""
    smallest = min((n for n, _ in counts.values()), default=0)
    return [k for k in ks if k <= smallest]
