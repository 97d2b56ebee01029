"""Deterministic splitting, sampling and mixing of example lists.

Every function takes an explicit seed and draws from its own ``random.Random``: a recipe run twice
selects the same examples, and no library touching the global random state can change the choice.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import replace

from lingotune.core.errors import LingotuneError
from lingotune.data.example import Example


def _derived_seed(seed: int, salt: str) -> int:
    """A per-name seed, so adding a source to a mix does not change what the other sources draw."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{salt}".encode()).digest()[:8], "big")


def split_examples(examples: Sequence[Example], size: float | int,
                   seed: int = 0) -> tuple[list[Example], list[Example]]:
    """(kept, held_out): ``size`` is a fraction (float in (0, 1)) or a count (int) of held-out examples.

    Both sides keep the input order, so neighbouring records (turns of one dialogue) stay readable.
    """
    n = len(examples)
    if isinstance(size, bool) or not isinstance(size, (int, float)):
        raise LingotuneError(f"split size must be a fraction or a count, got {size!r}")
    if isinstance(size, float):
        if not 0.0 < size < 1.0:
            raise LingotuneError(f"split fraction must be between 0 and 1, got {size}")
        size = round(size * n)
    if not 0 <= size <= n:
        raise LingotuneError(f"cannot hold out {size} of {n} examples")
    held = set(random.Random(seed).sample(range(n), size))
    kept = [e for i, e in enumerate(examples) if i not in held]
    return kept, [e for i, e in enumerate(examples) if i in held]


def choose_articles(n_articles: int, n_eval: int, seed: int) -> list[int]:
    """Indices of the held-out articles: the first ``n_eval`` of a seeded shuffle of ``range(n_articles)``.

    Kept separate so the fixture script and :func:`split_squad_by_article` make the very same choice.
    """
    if not 0 < n_eval < n_articles:
        raise LingotuneError(f"cannot hold out {n_eval} of {n_articles} articles; need 0 < n < {n_articles}")
    order = list(range(n_articles))
    random.Random(seed).shuffle(order)
    return sorted(order[:n_eval])


def split_squad_by_article(examples: Sequence[Example], n_eval_articles: int,
                           seed: int = 0) -> tuple[list[Example], list[Example]]:
    """(train, eval) with whole articles on each side: questions on one text leak answers to the others."""
    titles: list[str] = []
    for example in examples:
        title = example.meta.get("title")
        if not isinstance(title, str):
            where = f"{example.source}: record {example.meta.get('index')}"
            raise LingotuneError(f"{where} has no meta['title']; split_squad_by_article needs examples "
                                 "loaded with format 'squad'")
        if title not in titles:
            titles.append(title)
    held = {titles[i] for i in choose_articles(len(titles), n_eval_articles, seed)}
    train = [e for e in examples if e.meta["title"] not in held]
    return train, [e for e in examples if e.meta["title"] in held]


def sample(examples: Sequence[Example], n: int, seed: int = 0) -> list[Example]:
    """``n`` examples: without replacement when possible, else whole shuffled passes plus a partial one.

    Whole passes (rather than independent draws) keep every example equally represented when a small
    source is up-sampled.
    """
    if n < 0:
        raise LingotuneError(f"cannot sample {n} examples")
    if n and not examples:
        raise LingotuneError(f"cannot sample {n} examples from an empty list")
    rng = random.Random(seed)
    if n <= len(examples):
        return rng.sample(list(examples), n)
    picked: list[Example] = []
    while n - len(picked) >= len(examples):
        one_pass = list(examples)
        rng.shuffle(one_pass)
        picked += one_pass
    return picked + rng.sample(list(examples), n - len(picked))


def allocate(weights: Mapping[str, float], total: int) -> dict[str, int]:
    """Counts proportional to ``weights`` that add up to exactly ``total`` (largest-remainder rounding).

    Ties in the remainders go to the name listed first, so the result never depends on float noise order.
    """
    if total < 0:
        raise LingotuneError(f"total must be >= 0, got {total}")
    bad = {name: w for name, w in weights.items()
           if not (isinstance(w, (int, float)) and math.isfinite(w) and w >= 0)}
    if bad:
        raise LingotuneError(f"mix weights must be finite numbers >= 0, got {bad}")
    weight_sum = sum(weights.values())
    if weight_sum <= 0:
        raise LingotuneError("mix weights add up to 0; give at least one source a positive weight")
    quotas = {name: w / weight_sum * total for name, w in weights.items()}
    counts = {name: math.floor(q) for name, q in quotas.items()}
    names = list(weights)
    by_remainder = sorted(names, key=lambda name: (-(quotas[name] - counts[name]), names.index(name)))
    for name in by_remainder[: total - sum(counts.values())]:
        counts[name] += 1
    return counts


def mix(sources: Mapping[str, Sequence[Example]], weights: Mapping[str, float], total: int,
        seed: int = 0) -> list[Example]:
    """``total`` examples drawn from the sources in proportion to their weights, shuffled together.

    Each returned example is a copy whose ``meta["mix_source"]`` names its source, so reports can
    break results down by source; the caller's examples are left untouched.
    """
    missing, unknown = set(sources) - set(weights), set(weights) - set(sources)
    if missing or unknown:
        raise LingotuneError(f"mix weights must name exactly the sources; missing {sorted(missing)}, "
                             f"unknown {sorted(unknown)}")
    counts = allocate({name: weights[name] for name in sources}, total)
    mixed: list[Example] = []
    for name, examples in sources.items():
        if counts[name] and not examples:
            raise LingotuneError(f"mix source {name!r} has no examples but weight {weights[name]}")
        for example in sample(examples, counts[name], _derived_seed(seed, name)):
            mixed.append(replace(example, meta={**example.meta, "mix_source": name}))
    random.Random(seed).shuffle(mixed)
    return mixed
