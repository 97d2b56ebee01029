"""Attention over packed examples one example at a time, on CPU: for training, and for encoding
generation prompts without padding (``models/shared_prefix.py``).

A packed row's block-diagonal mask makes SDPA compute every query against every key of the row, and
an explicit mask also stops PyTorch's CPU flash kernel from skipping the blocks above the diagonal;
rows as wide as the longest example also carry padding. Here the micro-batch is one row, as for flash
attention's varlen kernels (``DataCollatorWithFlattening``'s ``cu_seq_lens_q``), and each example runs
its own causal SDPA call: only the lower triangle of each example is computed, no mask is used, and no
token is padding. Profiled on 3 quickstart steps (4 × 2 examples, 2 CPU cores): 20.2 s with rows, of
which SDPA 4.1 s and matmuls 9.5 s; 15.8 s per example, SDPA 3.3 s, matmuls 7.4 s (benchmarks/README.md).

bf16 inputs are attended in float32 (``UPCAST``): PyTorch's CPU flash kernel's bf16 backward is slow for
the quickstart's short examples (a causal forward + backward of 170 tokens, 9 heads: 4.4 ms in bf16,
2.4 ms in float32; equal from ~384 tokens), so 10 quickstart steps took 47-49 s instead of 56 s, at a
lower peak (2,636-2,661 MB against 2,789-2,808 MB), and the attention is the more exact for it.

Written by hand: PyTorch's varlen SDPA is CUDA-only and transformers' ``sdpa`` takes a dense mask. A
model uses this only while lingotune trains it (``use_segment_attention``) or encodes packed prompts
(``segment_attention``); without the varlen arguments (padded batches, decoding steps) it is
transformers' own SDPA, mask and all, except that masked grouped-query attention without gradients
(generation) is left to PyTorch's own grouping (``_masked_gqa_sdpa``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext

import torch
from transformers.integrations.sdpa_attention import sdpa_attention_forward

ATTENTION_NAME = "lingotune_sdpa_segments"
UPCAST = True  # bf16/fp16 inputs attended in float32 on CPU (module docstring); False for A/B runs


def segment_sdpa(module, query, key, value, attention_mask, dropout: float = 0.0, scaling: float | None = None,
                 is_causal: bool | None = None, **kwargs):
    """transformers' attention-function signature: query (batch, heads, tokens, dim) → (batch, tokens, heads, dim)."""
    bounds = kwargs.get("cu_seq_lens_q")
    gqa = getattr(module, "num_key_value_groups", 1) > 1
    if bounds is None or query.shape[0] != 1 or query.shape[2] != key.shape[2]:
        if (gqa and attention_mask is not None and kwargs.get("position_bias") is None and not torch.is_grad_enabled()
                and query.device.type == "cpu"):
            return _masked_gqa_sdpa(query, key, value, attention_mask, dropout, scaling), None
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      is_causal=is_causal, **kwargs)
    dtype = query.dtype
    upcast = UPCAST and dtype in (torch.bfloat16, torch.float16) and query.device.type == "cpu"
    with torch.autocast("cpu", enabled=False) if upcast else nullcontext():
        if upcast:
            query, key, value = query.float(), key.float(), value.float()
        # split, not slices: a slice's backward zero-fills a gradient of the whole row for each example,
        # split's backward concatenates once (5 % of a quickstart step's profile was those fills)
        sizes = bounds.diff().tolist()
        # per segment: its example's length and where its twin branch starts (train/twin_branches.py); none:
        # the example is the whole segment
        branches = kwargs.get("segment_branches")
        layout = branches.tolist() if branches is not None else [(size, 0) for size in sizes]
        parts = [part for q, k, v, (main, start) in zip(query.split(sizes, dim=2), key.split(sizes, dim=2),
                                                        value.split(sizes, dim=2), layout, strict=True)
                 if q.shape[2] for part in _with_branch(q, k, v, main, start, dropout, scaling, gqa)]
        output = parts[0] if len(parts) == 1 else torch.cat(parts, dim=2)
    return output.transpose(1, 2).to(dtype).contiguous(), None


def _with_branch(query, key, value, main: int, start: int, dropout: float, scaling: float | None, gqa: bool):
    """One segment's attention outputs: its first ``main`` tokens causally, then, if the segment is longer, its
    branch's tokens over the first ``start`` keys and, causally, over their own (the separate twin's attention,
    exactly)."""
    import torch.nn.functional as F

    if main >= query.shape[2]:
        return [F.scaled_dot_product_attention(query, key, value, dropout_p=dropout, scale=scaling, is_causal=True,
                                               enable_gqa=gqa)]
    rest = query.shape[2] - main
    (q, q_branch), (k, k_branch), (v, v_branch) = (t.split([main, rest], dim=2) for t in (query, key, value))
    seen = torch.ones(rest, start + rest, dtype=torch.bool, device=query.device).tril(start)
    return [F.scaled_dot_product_attention(q, k, v, dropout_p=dropout, scale=scaling, is_causal=True, enable_gqa=gqa),
            F.scaled_dot_product_attention(q_branch, torch.cat([k[:, :, :start], k_branch], dim=2),
                                           torch.cat([v[:, :, :start], v_branch], dim=2), attn_mask=seen,
                                           dropout_p=dropout, scale=scaling, enable_gqa=gqa)]


def _masked_gqa_sdpa(query, key, value, attention_mask, dropout: float, scaling: float | None):
    """Masked attention of grouped-query heads without repeating the keys and values per query head.

    transformers' ``sdpa`` lets PyTorch group the heads only without a mask (a CUDA kernel limit), so with
    one and several query tokens (a left-padded batch, a shared prefix's rests) it copies the keys and
    values 3 times per layer for SmolLM2's 9 query and 3 key/value heads; a single decoding token it
    regroups instead (``pack_gqa``). PyTorch's CPU kernel takes the mask and the grouping together: 50
    prompt tokens over 600 cached ones, batch 22, went from 7.8 to 6.0 ms per call with equal outputs; a
    decoding step from 0.69 to 0.63 ms. Generation only (no gradients); the output is laid out as
    transformers' (batch, tokens, heads, dim)."""
    output = torch.nn.functional.scaled_dot_product_attention(
        query, key, value, attn_mask=attention_mask, dropout_p=dropout, scale=scaling, enable_gqa=True)
    return output.transpose(1, 2).contiguous()


def register() -> str:
    """Registers the function (and transformers' SDPA mask builder for the unpacked case) under its name."""
    from transformers import AttentionInterface
    from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

    AttentionInterface.register(ATTENTION_NAME, segment_sdpa)
    AttentionMaskInterface.register(ATTENTION_NAME, sdpa_mask)
    return ATTENTION_NAME


def use_segment_attention(model) -> bool:
    """Switch a model that runs transformers' SDPA on CPU to per-example attention; True when switched."""
    from lingotune.models.attention_layout import full_attention_only

    if (torch.cuda.is_available() or getattr(model.config, "_attn_implementation", None) != "sdpa"
            or not full_attention_only(model)):  # a sliding window would need its own per-example mask
        return False
    model.set_attn_implementation(register())
    return True


@contextmanager
def segment_attention(model) -> Iterator[bool]:
    """Per-example attention for the duration (True), or False where it cannot apply (GPU, another
    attention implementation, sliding windows); the model's own implementation is restored after."""
    if uses_segment_attention(model):
        yield True
        return
    original = getattr(model.config, "_attn_implementation", None)
    if not use_segment_attention(model):
        yield False
        return
    try:
        yield True
    finally:
        model.set_attn_implementation(original)


def uses_segment_attention(model) -> bool:
    return getattr(model.config, "_attn_implementation", None) == ATTENTION_NAME
