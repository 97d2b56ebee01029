"""Greedy decoding that drops ended rows (models/greedy_decode.py) gives generate's answers.

The answers must end at different steps for rows to be dropped, so the end-of-sequence token is set to a
comma, which some answers reach within a few tokens, and rows are dropped as soon as one in ten has ended
(SmolLM2 in float32, where batch shape does not change the greedy choice)."""

from __future__ import annotations

import pytest
import torch

from lingotune.models import greedy_decode, reserved_cache
from lingotune.models.generate import generate_batched
from lingotune.models.loading import load_tokenizer
from tests.conftest import QUICKSTART_DATA


def _prompts(n: int) -> list[list[dict[str, str]]]:
    import json

    lines = (QUICKSTART_DATA / "mt_bench_x" / "question.es.jsonl").read_text(encoding="utf-8").splitlines()[:n]
    return [[{"role": "user", "content": json.loads(line)["turns"][0]}] for line in lines]


@pytest.mark.slow
def test_dropping_ended_rows_gives_generates_answers(smollm2, monkeypatch):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(smollm2.path, dtype=torch.float32, use_safetensors=True).eval()
    tokenizer = load_tokenizer(smollm2)
    tokenizer.eos_token = ","
    cuts = []
    select = reserved_cache.select_rows
    monkeypatch.setattr(greedy_decode, "PRUNE_FRACTION", 0.1)
    monkeypatch.setattr(reserved_cache, "select_rows", lambda config, cache, live: cuts.append(len(live)) or
                        select(config, cache, live))
    conversations = _prompts(16)
    pruned = generate_batched(model, tokenizer, conversations, max_new_tokens=32, batch_size=16)
    assert len(cuts) >= 2 and cuts == sorted(cuts, reverse=True)  # rows left the batch, in several steps
    kept = generate_batched(model, tokenizer, conversations, max_new_tokens=32, batch_size=16, prune_ended=False)
    assert pruned == kept
    assert len({len(a) for a in pruned}) > 3  # answers of different lengths


def test_dropping_ended_rows_keeps_the_reserved_cache_and_its_room(smollm2):
    """The live rows' keys and values are copied with the room for the tokens still to come."""
    from transformers import AutoConfig

    from lingotune.models.reserved_cache import ReservedLayer

    config = AutoConfig.from_pretrained(smollm2.path)
    buffers = [(torch.arange(4 * 2 * 10 * 3, dtype=torch.float32).view(4, 2, 10, 3),
                -torch.arange(4 * 2 * 10 * 3, dtype=torch.float32).view(4, 2, 10, 3)) for _ in range(2)]
    cache = reserved_cache.reserved_cache(config, buffers, 6)
    cut = reserved_cache.select_rows(config, cache, torch.tensor([1, 3]))
    assert all(isinstance(layer, ReservedLayer) for layer in cut.layers)
    assert cut.get_seq_length() == 6 and cut.layers[0]._key_buffer.shape == (2, 2, 10, 3)
    torch.testing.assert_close(cut.layers[1].keys, buffers[1][0][[1, 3], :, :6])
    torch.testing.assert_close(cut.layers[0].values, buffers[0][1][[1, 3], :, :6])


def test_the_eval_token_budget_reaches_the_generation_batches(tiny_model, monkeypatch):
    """``eval.token_budget`` caps the padded prompt tokens of each batch generate_batched plans."""
    from pydantic import ValidationError

    from lingotune.eval.generation import local_generation
    from lingotune.eval.spec import EvalSpec
    from lingotune.models import generate
    from lingotune.models.loading import load_model

    task = {"name": "t", "kind": "qa", "path": "x.json", "language": "es"}
    assert EvalSpec.model_validate({"tasks": [task], "token_budget": 24000}).token_budget == 24000
    with pytest.raises(ValidationError, match="token_budget"):
        EvalSpec.model_validate({"tasks": [task], "token_budget": 0})
    planned = []
    plan = generate.plan_batches
    monkeypatch.setattr(generate, "plan_batches", lambda groups, lengths, size, budget: planned.append(budget) or
                        plan(groups, lengths, size, budget))
    model, tokenizer = load_model(tiny_model, dtype="float32"), load_tokenizer(tiny_model)

    class Loaded:
        def get(self):
            return model, tokenizer

    answers = local_generation(Loaded(), 8, 300)([[{"role": "user", "content": "hola " * 40}]] * 3, 2, "t")
    assert planned == [300] and len(answers) == 3
