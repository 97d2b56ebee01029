"""Training sets balanced across switching levels (methods.md §4.1, "stratify training sets into
low/mid/high switching bins": our proposal, the paper's own use is not public).

Real code-mixed corpora are dominated by one level (most SentiMix tweets switch a lot, most
Hinglish-TOP queries a little), so a model tuned on them sees one kind of mixing. Here examples are
put into levels by a switching score (S-index by default, or CMI), and a sample is drawn to a target
distribution over the levels, ``uniform`` being "balanced". A level with too few examples gives all
it has and the shortfall is spread over the others in proportion to their targets; the report says
so, before and after, so nothing is balanced silently.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from pydantic import Field, model_validator

from lingotune.core.errors import RecipeError
from lingotune.core.schema import Strict
from lingotune.data.example import Example
from lingotune.language.codemix_metrics import corpus_metrics
from lingotune.language.taggers import tag_texts

# S-index edges: 0 = monolingual; tanh(0.5·P)·ln(N/N_max) is ~0.2 for one short insertion, ~0.4–0.6 for
# an even two-language sentence with a few switches; ln 2 = 0.69 is its ceiling for two languages.
S_INDEX_EDGES: tuple[float, ...] = (0.0, 0.15, 0.35)
CMI_EDGES: tuple[float, ...] = (0.0, 15.0, 30.0)


@dataclass
class LevelSample:
    """Which examples were drawn, and how the levels were filled before and after."""

    indices: list[int]
    edges: tuple[float, ...]
    labels: list[str]
    available: list[int]
    target: list[float]
    drawn: list[int]

    def table(self) -> str:
        rows = ["| level | available | target share | drawn | drawn share |", "|---|---|---|---|---|"]
        total = max(1, sum(self.drawn))
        for label, have, share, got in zip(self.labels, self.available, self.target, self.drawn, strict=True):
            rows.append(f"| {label} | {have} | {share:.2f} | {got} | {got / total:.2f} |")
        return "\n".join(rows)


def level_labels(edges: Sequence[float]) -> list[str]:
    """``(0, 0.15, 0.35)`` → ``["= 0", "(0, 0.15]", "(0.15, 0.35]", "> 0.35"]``: the first level is
    exactly the lowest edge (monolingual), the rest half-open intervals."""
    labels = [f"= {edges[0]:g}"]
    labels += [f"({lo:g}, {hi:g}]" for lo, hi in zip(edges[:-1], edges[1:], strict=True)]
    return labels + [f"> {edges[-1]:g}"]


def switching_levels(scores: Sequence[float], edges: Sequence[float] = S_INDEX_EDGES) -> np.ndarray:
    """Level index of each score (see :func:`level_labels`); NaN scores are an error."""
    values = np.asarray(scores, dtype=float)
    if np.isnan(values).any():
        raise ValueError("switching scores contain NaN")
    if list(edges) != sorted(edges) or len(set(edges)) != len(edges):
        raise RecipeError(f"switching level edges must increase strictly, got {list(edges)}")
    return np.searchsorted(np.asarray(edges, dtype=float), values, side="left").astype(int)


def _target_shares(target: str | Sequence[float] | Mapping[str, float], labels: list[str]) -> list[float]:
    if target == "uniform":
        return [1.0 / len(labels)] * len(labels)
    if isinstance(target, Mapping):
        unknown = sorted(set(target) - set(labels))
        if unknown:
            raise RecipeError(f"switching target names levels {unknown}; the levels are {labels}")
        shares = [float(target.get(label, 0.0)) for label in labels]
    elif isinstance(target, str):
        raise RecipeError(f"switching target {target!r}: expected 'uniform', a list of shares or level: share")
    else:
        shares = [float(x) for x in target]
        if len(shares) != len(labels):
            raise RecipeError(f"switching target has {len(shares)} shares for {len(labels)} levels {labels}")
    if any(s < 0 for s in shares) or sum(shares) <= 0:
        raise RecipeError(f"switching target shares must be ≥ 0 and not all 0, got {shares}")
    return [s / sum(shares) for s in shares]


def sample_by_level(
    scores: Sequence[float],
    n: int,
    *,
    edges: Sequence[float] = S_INDEX_EDGES,
    target: str | Sequence[float] | Mapping[str, float] = "uniform",
    seed: int = 0,
) -> LevelSample:
    """Draw ``n`` example indices (without replacement) so the levels follow ``target``."""
    levels = switching_levels(scores, edges)
    labels = level_labels(edges)
    shares = _target_shares(target, labels)
    members = [list(np.flatnonzero(levels == k)) for k in range(len(labels))]
    available = [len(m) for m in members]
    n = min(n, sum(a for a, s in zip(available, shares, strict=True) if s > 0))
    quota = [0] * len(labels)
    open_levels = {k for k in range(len(labels)) if shares[k] > 0 and available[k] > 0}
    remaining = n
    while remaining > 0 and open_levels:
        weight = sum(shares[k] for k in open_levels)
        # largest-remainder rounding of this round's allocation over the levels that still have room
        raw = {k: remaining * shares[k] / weight for k in open_levels}
        give = {k: int(raw[k]) for k in open_levels}
        for k in sorted(open_levels, key=lambda k: raw[k] - give[k], reverse=True)[: remaining - sum(give.values())]:
            give[k] += 1
        for k in list(open_levels):
            take = min(give[k], available[k] - quota[k])
            quota[k] += take
            remaining -= take
            if quota[k] >= available[k]:
                open_levels.discard(k)
    rng = random.Random(seed)
    chosen: list[int] = []
    for k, pool in enumerate(members):
        chosen += [int(i) for i in rng.sample(pool, quota[k])]
    return LevelSample(sorted(chosen), tuple(edges), labels, available, shares, quota)


class SwitchingSpec(Strict):
    """``switching:`` of a data source: draw its ``max_examples`` so switching levels follow ``target``.

    Tags: an example's own (CoNLL gold, ``meta.tags``) when it has them, else the ``tagger``'s on the
    ``text`` side (``answer`` for rewriting data whose answer is the code-mixed text, ``prompt`` when the
    prompt is; a parallel pair's source or target side as read, without the prompt template)."""

    score: Literal["s_index", "cmi"] = "s_index"
    target: Literal["uniform"] | list[float] | dict[str, float] = "uniform"
    edges: list[float] | None = Field(default=None, min_length=1)
    text: Literal["answer", "prompt"] = "answer"
    tagger: str = "hinglish"

    @model_validator(mode="after")
    def _edges_increase(self) -> SwitchingSpec:
        if self.edges is not None and self.edges != sorted(set(self.edges)):
            raise ValueError(f"edges must increase strictly, got {self.edges}")
        return self

    def level_edges(self) -> tuple[float, ...]:
        return tuple(self.edges) if self.edges else (S_INDEX_EDGES if self.score == "s_index" else CMI_EDGES)


def example_tags(examples: Sequence[Example], text: str, tagger: str) -> list[list[str]]:
    """Each example's gold tags when it has them, else the tagger's on its prompt or answer."""
    tags: list[list[str] | None] = [list(e.meta["tags"]) if e.meta.get("tags") else None for e in examples]
    missing = [i for i, t in enumerate(tags) if t is None]
    if missing:

        def side(example: Example) -> str:
            # a parallel pair's own sides, before any prompt template wrapped them
            if text == "answer":
                return example.meta.get("tgt") or example.response or ""
            return example.meta.get("src") or example.user_text

        tagged = tag_texts([side(examples[i]) for i in missing], tagger)  # loads the tagger only when needed
        for i, row in zip(missing, tagged, strict=True):
            tags[i] = row
    return [t or [] for t in tags]


def switching_scores(examples: Sequence[Example], spec: SwitchingSpec) -> np.ndarray:
    per = corpus_metrics(example_tags(examples, spec.text, spec.tagger)).per_utterance
    return np.nan_to_num(per[spec.score])


def sample_examples_by_level(examples: Sequence[Example], n: int, spec: SwitchingSpec,
                             seed: int) -> tuple[list[Example], LevelSample]:
    """``n`` examples drawn to the spec's level target; each keeps its score in ``meta["switching"]``."""
    scores = switching_scores(examples, spec)
    drawn = sample_by_level(scores, n, edges=spec.level_edges(), target=spec.target, seed=seed)
    picked = [examples[i] for i in drawn.indices]
    for i, example in zip(drawn.indices, picked, strict=True):
        example.meta[f"switching_{spec.score}"] = float(scores[i])
    random.Random(seed).shuffle(picked)
    return picked, drawn
