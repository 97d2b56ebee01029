"""Greedy decoding that stops computing the rows whose answer has ended.

transformers' ``generate`` runs every row of a batch through every decoding step until the last row ends
(finished rows are fed padding). On CPU a decoding step of a 135M model in a batch of 64 costs about what
its rows cost, so rows that are done are paid for: after the quickstart's training XQuAD answers end after
10 of 24 tokens on average, NTREX translations after 56 of 80. Here, once a quarter of the batch's rows
have ended, they leave it: the cache keeps only the live rows (``PRUNE_FRACTION``), so the batch shrinks
as answers end.

The tokens are generate's: the same greedy choice (argmax of the float32 logits), positions from the
attention mask, stopping at an end-of-sequence token or after ``max_new_tokens``, padding after the end
(tests/test_greedy_decode.py: equal answers in float32). Written by hand: ``generate`` has no per-row
stopping, and vLLM-style schedulers (``generate_batch``) were 3-6x slower on CPU (benchmarks/README.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from lingotune.models import reserved_cache

PRUNE_FRACTION = 0.25  # rows ended, of the batch, before the cache is cut down to the live rows (a copy)


def greedy_decode(model, input_ids: torch.Tensor, attention_mask: torch.Tensor, cache, cache_name: str, *,
                  max_new_tokens: int, eos_token_id: int | Sequence[int] | None, pad_token_id: int) -> torch.Tensor:
    """New tokens for each row (rows × ``max_new_tokens``, ``pad_token_id`` after a row's end) continuing
    ``input_ids`` whose first ``cache.get_seq_length()`` tokens are in ``cache`` already."""
    device = input_ids.device
    eos = torch.tensor([eos_token_id] if isinstance(eos_token_id, int) else list(eos_token_id or []),
                       device=device, dtype=torch.long)
    new = torch.full((input_ids.shape[0], max_new_tokens), pad_token_id, dtype=torch.long, device=device)
    positions = (attention_mask.long().cumsum(-1) - 1).masked_fill(attention_mask == 0, 0)
    past = cache.get_seq_length()
    step_ids, step_positions = input_ids[:, past:], positions[:, past:]
    rows = torch.arange(input_ids.shape[0], device=device)  # which output row each live row is
    ended = torch.zeros(input_ids.shape[0], dtype=torch.bool, device=device)
    with torch.inference_mode():
        for step in range(max_new_tokens):
            logits = model(input_ids=step_ids, attention_mask=attention_mask, position_ids=step_positions,
                           use_cache=True, logits_to_keep=1, **{cache_name: cache}).logits[:, -1]
            tokens = logits.float().argmax(-1)
            new[rows[~ended], step] = tokens[~ended]
            ended |= torch.isin(tokens, eos)
            if step == max_new_tokens - 1 or bool(ended.all()):
                break
            attention_mask = torch.cat([attention_mask, attention_mask.new_ones((len(rows), 1))], dim=1)
            step_ids, step_positions = tokens[:, None], step_positions[:, -1:] + 1
            if int(ended.sum()) >= PRUNE_FRACTION * len(rows):
                live = (~ended).nonzero().squeeze(1)
                cache = reserved_cache.select_rows(model.config, cache, live)
                rows, attention_mask, step_ids, step_positions = (t[live] for t in (rows, attention_mask, step_ids,
                                                                                    step_positions))
                ended = ended[live]
    return new

