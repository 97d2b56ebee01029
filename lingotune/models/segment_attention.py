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
transformers' own SDPA, mask and all.
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
    if bounds is None or query.shape[0] != 1 or query.shape[2] != key.shape[2]:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      is_causal=is_causal, **kwargs)
    gqa = getattr(module, "num_key_value_groups", 1) > 1
    dtype = query.dtype
    upcast = UPCAST and dtype in (torch.bfloat16, torch.float16) and query.device.type == "cpu"
    with torch.autocast("cpu", enabled=False) if upcast else nullcontext():
        if upcast:
            query, key, value = query.float(), key.float(), value.float()
        # split, not slices: a slice's backward zero-fills a gradient of the whole row for each example,
        # split's backward concatenates once (5 % of a quickstart step's profile was those fills)
        sizes = bounds.diff().tolist()
        parts = [torch.nn.functional.scaled_dot_product_attention(
            q, k, v, dropout_p=dropout, scale=scaling, is_causal=True, enable_gqa=gqa)
            for q, k, v in zip(query.split(sizes, dim=2), key.split(sizes, dim=2), value.split(sizes, dim=2),
                               strict=True) if q.shape[2]]
        output = parts[0] if len(parts) == 1 else torch.cat(parts, dim=2)
    return output.transpose(1, 2).to(dtype).contiguous(), None


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
