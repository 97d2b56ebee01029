"""Top-k by magnitude without sorting: a threshold from a radix select, ties broken by position.

mergekit's magnitude trimming (``sparsify.magnitude``) argsorts the whole flattened |Δ|: a float
copy, int64 indices (2× a float32 tensor) and sort scratch, ~7× the tensor in all. Here the k-th
largest value is found by a radix select over the values' bits, chunk by chunk, and the kept set is
"every entry above it, plus the first ``ties`` entries equal to it in flat order", so exactly k
entries are kept, as in mergekit. The only difference is *which* equal-magnitude entries at the
threshold are kept: mergekit takes them in its (unstable, unspecified) argsort order, lingotune the
lowest flat indices first, deterministically. Used by the memory-lean TIES (``lean.py``) and by the
freeze selection (``selection.top_fraction_mask``), so freezing and reverting pick the same entries.
Plain torch, no mergekit import (the freeze hook runs in training).
"""

from __future__ import annotations

import torch

CHUNK_ELEMENTS = 1 << 19  # elements per pass step (2 MiB of float32): bounds every temporary
SELECT_CHUNK = 1 << 22  # the radix passes hold one int32 digit buffer of this size (16 MiB): fewer, larger ops
_INT_VIEW = {2: torch.int16, 4: torch.int32, 8: torch.int64}


def kth_largest(values: torch.Tensor, k: int, chunk: int = SELECT_CHUNK) -> tuple[torch.Tensor, int]:
    """The k-th largest of non-negative floats (1-D, contiguous) and how many entries equal to it to keep.

    Returns ``(t, ties)``: the k largest entries are all entries ``> t`` plus ``ties`` (≥ 1) of the
    entries ``== t``. Non-negative IEEE floats order like their bit patterns read as integers, so
    a radix select over 16-bit digits (one chunked ``bincount`` pass per digit: one for 16-bit
    floats, two for float32, four for float64) finds ``t`` exactly, in a chunk and a histogram of
    extra memory. A NaN counts as larger than every number, as in torch's sort.
    """
    n = values.numel()
    if not 1 <= k <= n:
        raise ValueError(f"k={k} is outside 1..{n}")
    ints = values.view(_INT_VIEW[values.element_size()])  # digit arithmetic in this width: no copies
    bits = 8 * values.element_size()
    prefix, rank = 0, k  # rank: how many still to take among entries whose high digits equal prefix
    for shift in range(bits - 16, -1, -16):
        top = shift + 16 == bits
        digit_mask = 0x7FFF if top else 0xFFFF  # the top digit drops the sign bit abs() may leave on a NaN
        high_mask = 0 if top else (1 << (bits - 1 - shift - 16)) - 1  # the digits above, sign bit dropped
        hist = torch.zeros(1 << 16, dtype=torch.int64, device=values.device)
        for start in range(0, n, chunk):
            part = ints[start : start + chunk]
            if not top:
                part = part[((part >> (shift + 16)).bitwise_and_(high_mask)) == prefix]
            hist += torch.bincount((part >> shift).bitwise_and_(digit_mask), minlength=1 << 16)
        at_least = hist.flip(0).cumsum(0).flip(0)  # at_least[d]: entries whose digit is >= d
        digit = int((at_least >= rank).nonzero().max())
        if digit < 0xFFFF:
            rank -= int(at_least[digit + 1])
        prefix = (prefix << 16) | digit
    return torch.tensor(prefix, dtype=ints.dtype).view(values.dtype), rank


def keep_mask(magnitudes: torch.Tensor, threshold: torch.Tensor, ties_left: int) -> tuple[torch.Tensor, int]:
    """Kept entries of one chunk (1-D), given ``kth_largest``'s result; returns the ties still to keep.

    Chunks must come in flat order so the tied entries kept are the lowest indices.
    """
    keep = magnitudes > threshold
    if ties_left > 0:
        tied = magnitudes == threshold
        count = int(tied.sum())
        keep |= tied if count <= ties_left else tied & (tied.cumsum(0) <= ties_left)
        ties_left = max(0, ties_left - count)
    return keep, ties_left


def top_k_mask(magnitudes: torch.Tensor, k: int) -> torch.Tensor:
    """Boolean mask of the k largest entries of a 1-D tensor of non-negative floats (ties: lowest index)."""
    threshold, ties = kth_largest(magnitudes, k)
    mask = torch.empty(magnitudes.shape, dtype=torch.bool, device=magnitudes.device)
    for start in range(0, magnitudes.numel(), CHUNK_ELEMENTS):
        part = slice(start, start + CHUNK_ELEMENTS)
        mask[part], ties = keep_mask(magnitudes[part], threshold, ties)
    return mask
