"""Negative twins trained as branches of the example whose prompt they share.

A negative twin (``train/negatives.py``) repeats its example's prompt with a bad answer, so trained as an
example of its own its prompt is encoded twice: in the quickstart 9,630 of 80,577 training tokens
(12 %) were those repeated prompts. Here the twin rides in its example's segment of a packed row instead:
its tokens from the first one that differs (one earlier: that token's hidden state predicts the twin's
first token) follow the example's, at the positions they have in the twin, and attend to the shared
beginning and to each other only (``models/segment_attention.py``). Causal attention makes the shared
beginning's keys and values the same in both, so every loss term, and every gradient, is the separate
twin's up to float rounding (tests/test_twin_branches.py holds it to that).

A twin becomes a branch only where training packs one row per micro-batch with lingotune's per-example
attention (``segment_attention``, CPU; flash attention's varlen kernels cannot branch, so on GPU twins stay
examples of their own), and only from before its first target token, so that none of its targets falls
in the shared part. A micro-batch then holds 4 examples and their twins, so an epoch has fewer
optimizer steps of more tokens each (the loss is still normalised over each step's targets).

Written here: flash attention's varlen kernels and PyTorch's SDPA take no such tree of sequences.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from lingotune.models.shared_prefix import common_length
from lingotune.train.label_loss import IGNORE_INDEX
from lingotune.train.tokenize import TokenizedExample, TwinBranch


def _shared_length(example: TokenizedExample, twin: TokenizedExample) -> int:
    """Leading tokens both have, and before the twin's first target."""
    first_target = next((i for i, label in enumerate(twin.labels) if label != IGNORE_INDEX), len(twin.input_ids))
    return min(common_length(example.input_ids, twin.input_ids), first_target)


def attach_twins(examples: Sequence[TokenizedExample]) -> list[TokenizedExample]:
    """Each negative twin moved into the example it was made from (same ``source``) as its branch.

    A twin stays an example of its own when its example is not in the list (dropped as too long), already
    carries one, or shares fewer than 2 tokens with it. Order: the examples as given, the twins removed."""
    by_source = {e.source: i for i, e in enumerate(examples) if not e.negative and e.source is not None}
    merged = list(examples)
    alone: list[TokenizedExample] = []
    for twin in (e for e in examples if e.negative):
        index = by_source.get(twin.source)
        host = merged[index] if index is not None else None
        if host is None or host.branch is not None or (shared := _shared_length(host, twin)) < 2:
            alone.append(twin)
            continue
        start = shared - 1
        labels = twin.labels[start:]
        merged[index] = replace(host, branch=TwinBranch(twin.input_ids[start:], [IGNORE_INDEX, *labels[1:]], start))
    return [e for e in merged if not e.negative] + alone


def detach_twin(input_ids: Sequence[int], labels: Sequence[int], branch: TwinBranch) -> tuple[list[int], list[int]]:
    """The twin of a branch as the example it was: its ids and labels (for collators that cannot branch)."""
    ids = [*input_ids[: branch.start], *branch.input_ids]
    return ids, [IGNORE_INDEX] * branch.start + list(branch.labels)
