"""Prompts that begin alike get their common beginning computed once per batch.

XQuAD and MLQA ask several questions about one paragraph, and the prompt puts the paragraph first; a
few-shot prompt repeats its shots in every item; pass@k samples one prompt k times. Encoding each
prompt in full ("prefill") was 45 of the 57 s of the quickstart's XQuAD-es evaluation on 2 CPU cores;
its 100 prompts hold 38 paragraphs, and computing each shared beginning once halves the prefill.

Written by hand: vLLM and SGLang do this across requests (automatic prefix caching), but in-process
transformers' ``generate`` takes one prefilled cache for a whole batch and no per-row prefixes. So a
batch's distinct prefixes are prefilled together (left-padded), the cache rows are repeated for the
prompts that share them (``Cache.reorder_cache``), and ``generate`` continues from the rest of each
prompt, padded in the middle: positions come from the attention mask, as in any left-padded batch.
On CPU the prefixes are not padded either: they are encoded packed end to end with per-example
attention (``_packed_prefix_cache``), which is also how lone prompts are encoded there. Greedy answers
equal the unshared, padded ones in float32 (tests/test_shared_prefix.py); in bf16 they differ as much
as any change of batch shape does.
"""

from __future__ import annotations

import inspect
import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MIN_SHARED_TOKENS = 64  # below this the saved prefill does not pay for the extra forward pass
PACKED_PREFILL_TOKENS = 4096  # per packed prefill forward (``_packed_prefix_cache``): a 16 MB mask


@dataclass(frozen=True)
class PromptGroup:
    """Prompts (indices) whose first ``shared`` tokens are the same; ``shared`` < each one's length."""

    members: tuple[int, ...]
    shared: int


def common_length(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens ``a`` and ``b`` share."""
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def group_shared_prefixes(ids: Sequence[Sequence[int]], min_shared: int = MIN_SHARED_TOKENS) -> list[PromptGroup]:
    """Groups of prompts sharing at least ``min_shared`` leading tokens; every prompt is in one group.

    Neighbours in lexicographic order of token ids share the longest beginnings, so one pass over that
    order joins a prompt to the group before it while the group's common beginning stays ≥ ``min_shared``.
    A group's shared part stops one token short of its shortest member, which must still be fed to
    ``generate``. A prompt alone is a group of one that shares nothing.
    """
    order = sorted(range(len(ids)), key=lambda i: list(ids[i]))
    groups: list[PromptGroup] = []
    members: list[int] = []
    shared = 0
    for index in order:
        if members:
            common = min(shared, common_length(ids[members[-1]], ids[index]), len(ids[index]) - 1)
            if common >= min_shared:
                members.append(index)
                shared = common
                continue
            groups.append(PromptGroup(tuple(members), shared if len(members) > 1 else 0))
        members, shared = [index], len(ids[index]) - 1
    if members:
        groups.append(PromptGroup(tuple(members), shared if len(members) > 1 else 0))
    return groups


def plan_batches(groups: Sequence[PromptGroup], lengths: Sequence[int], batch_size: int,
                 token_budget: int) -> list[list[PromptGroup]]:
    """Batches of whole groups (split where larger than a batch), longest prompts first.

    A batch holds at most ``batch_size`` prompts and ``token_budget`` padded prompt tokens, as the
    unshared batches did; when no prompt shares anything this is exactly the unshared batching
    (prompts by length, longest first, ties in input order).
    """
    def cap(longest: int) -> int:
        return max(1, min(batch_size, token_budget // max(longest, 1)))

    chunks: list[PromptGroup] = []
    for group in groups:
        members = sorted(group.members, key=lambda i: (-lengths[i], i))
        size = cap(lengths[members[0]])
        for start in range(0, len(members), size):
            part = tuple(members[start : start + size])
            chunks.append(PromptGroup(part, group.shared if len(part) > 1 else 0))
    chunks.sort(key=lambda c: (-lengths[c.members[0]], c.members[0]))
    batches: list[list[PromptGroup]] = []
    rows = limit = 0
    for chunk in chunks:
        if batches and rows + len(chunk.members) <= limit:
            batches[-1].append(chunk)
            rows += len(chunk.members)
        else:
            batches.append([chunk])
            rows, limit = len(chunk.members), cap(lengths[chunk.members[0]])
    return batches


def generate_with_shared_prefixes(model, ids: Sequence[Sequence[int]], batch: Sequence[PromptGroup], pad_id: int,
                                  *, packed: bool = False, prune_ended: bool = True, **generate_options: Any):
    """One batch: its groups' prefixes prefilled once, then ``generate`` per prompt.

    A group's prefix is its shared beginning, or a lone prompt but its last token. ``packed``: the
    prefixes are encoded side by side in one row with per-example attention (the model must be in
    ``segment_attention``), so no padding is computed, instead of as a left-padded batch. ``prune_ended``:
    greedy decoding drops the rows whose answer has ended (``models/greedy_decode.py``).
    Returns the prompts' indices in row order and the generated tokens (new ones only), one row each.
    """
    import torch

    device = next(model.parameters()).device
    prefix_lengths = [group.shared if group.shared else len(ids[group.members[0]]) - 1 for group in batch]
    width = max(prefix_lengths)
    prefix = torch.full((len(batch), width), pad_id, dtype=torch.long)
    prefix_mask = torch.zeros_like(prefix)
    for row, (group, length) in enumerate(zip(batch, prefix_lengths, strict=True)):
        if length:
            prefix[row, width - length :] = torch.tensor(ids[group.members[0]][:length])
            prefix_mask[row, width - length :] = 1
    rows = [(g, member) for g, group in enumerate(batch) for member in group.members]
    rests = [list(ids[member][prefix_lengths[g] :]) for g, member in rows]
    rest_width = max(len(rest) for rest in rests)
    rest = torch.full((len(rows), rest_width), pad_id, dtype=torch.long)
    rest_mask = torch.zeros_like(rest)
    for row, tokens in enumerate(rests):
        rest[row, rest_width - len(tokens) :] = torch.tensor(tokens)
        rest_mask[row, rest_width - len(tokens) :] = 1
    prefix, prefix_mask = prefix.to(device), prefix_mask.to(device)
    accepted = inspect.signature(model.forward).parameters
    cache_name = "cache" if "cache" in accepted else "past_key_values"  # transformers 5.x renamed it
    extra = {"logits_to_keep": 1} if "logits_to_keep" in accepted else {}
    with torch.inference_mode():
        repeat = torch.tensor([g for g, _ in rows], device=device)
        if packed:
            prefixes = [ids[group.members[0]][:length] for group, length in zip(batch, prefix_lengths, strict=True)]
            cache = _packed_prefix_cache(model, prefixes, repeat, cache_name, extra,
                                         room=rest_width + generate_options.get("max_new_tokens", 0))
        else:
            prefilled = model(input_ids=prefix, attention_mask=prefix_mask,
                              position_ids=(prefix_mask.cumsum(-1) - 1).clamp(min=0), use_cache=True, **extra)
            cache = prefilled[cache_name]
            cache.reorder_cache(repeat)
        input_ids = torch.cat([prefix[repeat], rest.to(device)], dim=1)
        attention_mask = torch.cat([prefix_mask[repeat], rest_mask.to(device)], dim=1)
        if prune_ended and not generate_options.get("do_sample"):  # rows leave the batch as their answers end
            from lingotune.models.greedy_decode import greedy_decode

            new_tokens = greedy_decode(model, input_ids, attention_mask, cache, cache_name,
                                       max_new_tokens=generate_options["max_new_tokens"],
                                       eos_token_id=generate_options.get(  # generate's default: the model's
                                           "eos_token_id", getattr(model.generation_config, "eos_token_id", None)),
                                       pad_token_id=generate_options.get("pad_token_id", pad_id))
            return [member for _, member in rows], new_tokens
        generated = model.generate(input_ids=input_ids, attention_mask=attention_mask, **{cache_name: cache},
                                   **generate_options)
    return [member for _, member in rows], generated[:, input_ids.shape[1] :]


def _packed_prefix_cache(model, prefixes: Sequence[Sequence[int]], repeat, cache_name: str, extra: dict[str, Any],
                         room: int):
    """The left-padded cache of ``prefixes`` for rows ``repeat`` (a prefix index each), computed from rows
    that pack the prefixes end to end and written straight into buffers with ``room`` tokens reserved
    (``models/reserved_cache.py``).

    Padding a batch to its longest prompt made a third of the prefill padding (MT-Bench-X ES: 17,680
    tokens encoded for 11,956 real ones). Each packed forward holds at most ``PACKED_PREFILL_TOKENS``
    (transformers still builds a tokens x tokens boolean mask that the per-example attention ignores).
    Positions restart per prefix, as in the padded batch, so the keys carry the same rotary positions.
    Written by hand: transformers' ``generate`` takes one cache for the whole batch and has no varlen
    prefill on CPU.
    """
    import torch

    from lingotune.models.reserved_cache import reserved_cache

    device = next(model.parameters()).device
    chunks: list[list[int]] = [[]]
    filled = 0
    for index, prefix in enumerate(prefixes):
        if chunks[-1] and filled + len(prefix) > PACKED_PREFILL_TOKENS:
            chunks.append([])
            filled = 0
        chunks[-1].append(index)
        filled += len(prefix)
    width = max(len(prefix) for prefix in prefixes)
    rows_of: dict[int, list[int]] = {}  # prefix index → the cache rows that repeat it
    for row, index in enumerate(repeat.tolist()):
        rows_of.setdefault(index, []).append(row)
    buffers: list[tuple[Any, Any]] = []  # per layer: keys, values (rows, heads, width + room, dim)
    for chunk in chunks:
        lengths = [len(prefixes[i]) for i in chunk]
        edges = torch.tensor([0, *itertools.accumulate(lengths)], dtype=torch.int32, device=device)
        tokens = torch.tensor([[t for i in chunk for t in prefixes[i]]], device=device)
        positions = torch.tensor([[p for n in lengths for p in range(n)]], device=device)
        encoded = model(input_ids=tokens, position_ids=positions, use_cache=True, cu_seq_lens_q=edges,
                        cu_seq_lens_k=edges, max_length_q=max(lengths), max_length_k=max(lengths), **extra)
        layers = encoded[cache_name].layers
        if not buffers:
            buffers = [tuple(t.new_zeros((len(repeat), t.shape[1], width + room, t.shape[-1]))
                             for t in (layer.keys, layer.values)) for layer in layers]
        for (key_buffer, value_buffer), layer in zip(buffers, layers, strict=True):
            for index, start, end in zip(chunk, edges[:-1].tolist(), edges[1:].tolist(), strict=True):
                key_buffer[rows_of[index], :, width - (end - start) : width] = layer.keys[0, :, start:end]
                value_buffer[rows_of[index], :, width - (end - start) : width] = layer.values[0, :, start:end]
        del encoded
    return reserved_cache(model.config, buffers, width)
