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
Greedy answers equal the unshared ones in float32 (tests/test_shared_prefix.py); in bf16 they differ
as much as any change of batch shape does.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

MIN_SHARED_TOKENS = 64  # below this the saved prefill does not pay for the extra forward pass


@dataclass(frozen=True)
class PromptGroup:
    """Prompts (indices) whose first ``shared`` tokens are the same; ``shared`` < each one's length."""

    members: tuple[int, ...]
    shared: int


def _common_length(a: Sequence[int], b: Sequence[int]) -> int:
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
            common = min(shared, _common_length(ids[members[-1]], ids[index]), len(ids[index]) - 1)
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
                                  **generate_options: Any):
    """One batch: its groups' prefixes prefilled once, then ``generate`` per prompt.

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
        prefilled = model(input_ids=prefix, attention_mask=prefix_mask,
                          position_ids=(prefix_mask.cumsum(-1) - 1).clamp(min=0), use_cache=True, **extra)
        cache = prefilled[cache_name]
        repeat = torch.tensor([g for g, _ in rows], device=device)
        cache.reorder_cache(repeat)
        input_ids = torch.cat([prefix[repeat], rest.to(device)], dim=1)
        attention_mask = torch.cat([prefix_mask[repeat], rest_mask.to(device)], dim=1)
        generated = model.generate(input_ids=input_ids, attention_mask=attention_mask, **{cache_name: cache},
                                   **generate_options)
    return [member for _, member in rows], generated[:, input_ids.shape[1] :]
