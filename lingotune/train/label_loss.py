"""Cross-entropy computed only at the positions whose next token carries loss.

A causal LM's forward projects every position onto the vocabulary (49k rows for SmolLM2) and the
loss then ignores the prompt positions. Training on answers only, most positions are prompt, so most
of that projection, its float32 copy for the loss and their gradients are wasted memory and time.
transformers' ``logits_to_keep`` (a boolean mask selects positions, the packed-training case) makes
the model's own head (with any soft-capping or scaling it applies) run on the kept positions only;
the cross-entropy then runs in float32 over chunks of them (TRL's ``chunked_nll`` idea; written here
because TRL keeps it inside its own trainer). Works on padded batches and on flattened (packed) rows.
"""

from __future__ import annotations

from typing import Any

IGNORE_INDEX = -100
CE_CHUNK = 2048  # positions per float32 cross-entropy chunk
UL_MAX_P = 1 - 1e-5  # keeps -log(1 - p) and its gradient finite where the model is certain


def negative_label(token: int) -> int:
    """A token to train against, encoded in the label row below IGNORE_INDEX so that it travels through
    the padding and packing collators unchanged (they copy labels and pad with IGNORE_INDEX)."""
    return IGNORE_INDEX - 1 - token


def _decode_targets(targets):
    """(token ids, is-negative) of encoded targets."""
    import torch

    negative = targets < IGNORE_INDEX
    return torch.where(negative, IGNORE_INDEX - 1 - targets, targets), negative


def _keep_mask(labels):
    """Position p is kept when labels[p + 1] is a target (the causal shift)."""
    import torch

    keep = torch.zeros_like(labels, dtype=torch.bool)
    keep[:, :-1] = labels[:, 1:] != IGNORE_INDEX
    return keep


def segment_ids(inputs: dict[str, Any]):
    """Which example each position belongs to, numbered across the micro-batch (row-major).

    Packed rows: a new example starts where the position ids restart at 0. Padded rows: one per row.
    """
    import torch

    labels = inputs["labels"]
    position_ids = inputs.get("position_ids")
    if position_ids is not None and "attention_mask" not in inputs:
        starts = (position_ids == 0).flatten()
        return (torch.cumsum(starts.long(), 0) - 1).view(labels.shape)
    rows = torch.arange(labels.size(0), device=labels.device)
    return rows[:, None].expand_as(labels)


def token_losses(model, inputs: dict[str, Any]):
    """Per-token cross-entropy (float32) of every target token, and the target's position mask.

    Returns ``(losses, keep)``: ``losses[k]`` is the loss of the k-th True position of ``keep``
    (row-major), i.e. of predicting ``labels[p + 1]`` from position p.
    """
    import torch
    import torch.nn.functional as F

    inputs = dict(inputs)
    labels = inputs.pop("labels")
    inputs.pop("example_order", None)
    keep = _keep_mask(labels)
    targets, _ = _decode_targets(labels[:, 1:][keep[:, :-1]])
    if not bool(keep.any()):  # no target in this micro-batch: a zero loss that still reaches the graph
        outputs = model(**inputs, logits_to_keep=1, use_cache=False)
        return outputs.logits.sum()[None] * 0.0, keep
    # use_cache=False: with a cache, transformers would not read packed rows from the position ids
    outputs = model(**inputs, logits_to_keep=keep, use_cache=False)
    logits = outputs.logits.reshape(-1, outputs.logits.size(-1))
    # split, not slices: a slice's backward zero-fills and copies a gradient as large as all the logits
    # (a 49k-vocabulary float32 fill and copy per micro-batch, even when one chunk holds every position)
    losses = [F.cross_entropy(chunk.float(), chunk_targets, reduction="none")
              for chunk, chunk_targets in zip(logits.split(CE_CHUNK), targets.split(CE_CHUNK), strict=True)]
    return (losses[0] if len(losses) == 1 else torch.cat(losses)), keep


def negative_targets(labels, keep):
    """Which of ``token_losses``' positions hold a negative target (same order as its losses)."""
    return _decode_targets(labels[:, 1:][keep[:, :-1]])[1]


def unlikelihood_losses(model, inputs: dict[str, Any], weight: float):
    """Per-token training losses: cross-entropy -log p of a target, ``weight`` × -log(1 - p) of a
    negative token (unlikelihood training, Welleck et al. 2019, applied to whole negative answers).

    Written here: TRL's trainers have no unlikelihood objective; this reuses the target-only logits."""
    import torch

    losses, keep = token_losses(model, inputs)
    negative = negative_targets(inputs["labels"], keep)
    if not bool(negative.any()):
        return losses
    p = torch.exp(-losses).clamp(max=UL_MAX_P)
    return torch.where(negative, -weight * torch.log1p(-p), losses)


def example_losses(model, inputs: dict[str, Any]):
    """Mean target-token loss of each example in the micro-batch, in the order the collator got them
    (padded rows, or packed segments put back in order by ``example_order``), and each example's target
    count; an example without targets gets loss 0 and count 0."""
    import torch

    losses, keep = token_losses(model, inputs)
    positive = ~negative_targets(inputs["labels"], keep)  # a negative token is no measure of difficulty
    if not bool(positive.all()):
        keep = keep.clone()
        keep[:, :-1] &= inputs["labels"][:, 1:] >= 0
        losses = losses[positive]
    segments = segment_ids(inputs)
    n = int(segments.max()) + 1
    # the target of position p is labels[p + 1]: it belongs to p + 1's example (the same one: a new
    # example's first label is never a target)
    target_segment = segments[:, 1:][keep[:, :-1]]
    sums = torch.zeros(n, dtype=losses.dtype, device=losses.device).index_add(0, target_segment, losses)
    counts = torch.bincount(target_segment, minlength=n)
    means = sums / counts.clamp_min(1)
    order = inputs.get("example_order")
    if order is None:
        return means, counts
    in_order, counts_in_order = torch.empty_like(means), torch.empty_like(counts)
    in_order[order], counts_in_order[order] = means, counts  # segment k holds example order[k]
    return in_order, counts_in_order
