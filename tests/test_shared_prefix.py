"""Prompts that begin alike are encoded once per batch, and the answers do not change."""

from __future__ import annotations

import json

import pytest

from lingotune.models.shared_prefix import PromptGroup, group_shared_prefixes, plan_batches
from tests.conftest import QUICKSTART_DATA


def test_groups_join_prompts_that_share_a_long_beginning():
    paragraph = list(range(100, 180))
    ids = [paragraph + [1, 2], [7] * 90, paragraph + [3], paragraph[:70] + [9, 9], [8] * 10]
    groups = {g.members: g.shared for g in group_shared_prefixes(ids, min_shared=64)}
    # 0 and 2 share the 80-token paragraph; 3 shares 70 of it, so the three share 70
    assert groups == {(3, 0, 2): 70, (1,): 0, (4,): 0}
    assert {g.members: g.shared for g in group_shared_prefixes(ids, min_shared=75)} == {
        (3,): 0, (0, 2): 80, (1,): 0, (4,): 0}


def test_a_prompt_that_begins_another_leaves_it_one_token_to_feed():
    ids = [[5] * 70, [5] * 70 + [6, 7], [5] * 70]
    (group,) = group_shared_prefixes(ids, min_shared=64)
    assert sorted(group.members) == [0, 1, 2] and group.shared == 69


def test_without_shared_beginnings_the_batches_are_the_unshared_ones():
    """Longest first, ties in input order, at most batch_size prompts and token_budget tokens each."""
    lengths = [30, 50, 50, 10, 40, 20, 600]
    groups = [PromptGroup((i,), 0) for i in range(len(lengths))]
    batches = plan_batches(groups, lengths, batch_size=3, token_budget=1000)
    assert [[g.members[0] for g in b] for b in batches] == [[6], [1, 2, 4], [0, 5, 3]]


def test_groups_stay_whole_unless_larger_than_a_batch():
    lengths = [100] * 5 + [90, 80]
    groups = [PromptGroup((0, 1, 2, 3, 4), 70), PromptGroup((5,), 0), PromptGroup((6,), 0)]
    batches = plan_batches(groups, lengths, batch_size=4, token_budget=10_000)
    assert [[(g.members, g.shared) for g in b] for b in batches] == [
        [((0, 1, 2, 3), 70)], [((4,), 0), ((5,), 0), ((6,), 0)]]


def _xquad_conversations(n: int) -> list[list[dict[str, str]]]:
    data = json.loads((QUICKSTART_DATA / "xquad" / "xquad.es.eval.json").read_text(encoding="utf-8"))
    out = []
    for article in data["data"]:
        for paragraph in article["paragraphs"][:2]:
            for qa in paragraph["qas"][:3]:
                prompt = f"Texto: {paragraph['context'][:400]}\n\nPregunta: {qa['question']}"
                out.append([{"role": "user", "content": prompt}])
    return out[:n]


@pytest.mark.slow
def test_shared_prefixes_and_packed_prompts_give_the_padded_answers_in_float32(smollm2):
    """Three questions per paragraph, with an unrelated short prompt in the same batches."""
    from lingotune.models.attention_layout import full_attention_only
    from lingotune.models.chat import render
    from lingotune.models.generate import generate_batched
    from lingotune.models.loading import load_model, load_tokenizer

    tokenizer, model = load_tokenizer(smollm2), load_model(smollm2, dtype="float32")
    assert full_attention_only(model)
    conversations = _xquad_conversations(6) + [[{"role": "user", "content": "Hola, ¿qué tal?"}]]
    shared = generate_batched(model, tokenizer, conversations, max_new_tokens=12, batch_size=4)
    alone = generate_batched(model, tokenizer, conversations, max_new_tokens=12, batch_size=4,
                             share_prefixes=False)
    padded = generate_batched(model, tokenizer, conversations, max_new_tokens=12, batch_size=4,
                              share_prefixes=False, packed_prefill=False)
    assert shared == alone == padded  # the first two encode the prompts packed, the last padded
    rendered = [tokenizer(render(tokenizer, c, add_generation_prompt=True), add_special_tokens=False).input_ids
                for c in conversations]
    assert sorted(len(g.members) for g in group_shared_prefixes(rendered)) == [1, 3, 3]  # sharing did happen


@pytest.mark.parametrize("packed", [False, True], ids=["padded", "packed"])
def test_shared_prefix_rows_get_the_logits_of_whole_prompts(tiny_model, packed, monkeypatch):
    """Groups of different prefix lengths in one batch (the shorter prefix left-padded), rests of
    different lengths (padded in the middle), and a prompt alone: each row's next-token logits equal
    those of its whole prompt run unbatched. Packed: the prefixes encoded end to end in rows of at
    most 130 tokens here (70; 90 + 39: two forwards), with per-example attention."""
    import contextlib

    import torch

    from lingotune.models import shared_prefix
    from lingotune.models.loading import load_model
    from lingotune.models.segment_attention import segment_attention
    from lingotune.models.shared_prefix import generate_with_shared_prefixes

    monkeypatch.setattr(shared_prefix, "PACKED_PREFILL_TOKENS", 130)

    model = load_model(tiny_model, dtype="float32").eval()
    generator = torch.Generator().manual_seed(0)
    vocab = model.config.vocab_size

    def tokens(n: int) -> list[int]:
        return torch.randint(3, vocab, (n,), generator=generator).tolist()

    first, second = tokens(70), tokens(90)
    ids = [first + tokens(3), first + tokens(7), second + tokens(2), second + tokens(5), tokens(40)]
    batch = [PromptGroup((0, 1), 70), PromptGroup((2, 3), 90), PromptGroup((4,), 0)]
    scores = []

    def capture(module, args, kwargs, output):
        scores.append(output.logits[:, -1].clone())

    handle = model.register_forward_hook(capture, with_kwargs=True)
    try:
        with segment_attention(model) if packed else contextlib.nullcontext(False) as switched:
            assert switched == packed
            order, new = generate_with_shared_prefixes(model, ids, batch, pad_id=0, max_new_tokens=1,
                                                       do_sample=False, packed=packed)
    finally:
        handle.remove()
    assert len(scores) == (3 if packed else 2)  # the prefixes (two packed rows), then the rests
    assert model.config._attn_implementation == "sdpa"  # restored
    assert order == [0, 1, 2, 3, 4] and new.shape == (5, 1)
    batched = scores[-1]  # the prefill of the prefixes comes first, then the rests
    with torch.inference_mode():
        for row, prompt in enumerate(ids):
            alone = model(input_ids=torch.tensor([prompt])).logits[0, -1]
            torch.testing.assert_close(batched[row], alone, atol=1e-4, rtol=1e-4)


def test_pass_at_k_samples_of_one_prompt_share_it_and_still_differ_per_seed(tiny_model):
    """k samples of one long prompt are one group: drawn per seed, the same on a rerun."""
    from lingotune.models.chat import render
    from lingotune.models.generate import Sampling, generate_batched
    from lingotune.models.loading import load_model, load_tokenizer

    tokenizer, model = load_tokenizer(tiny_model), load_model(tiny_model, dtype="float32")
    prompt = [{"role": "user", "content": "def add(a, b):\n    " + "# add two numbers\n    " * 20}]
    ids = tokenizer(render(tokenizer, prompt, add_generation_prompt=True), add_special_tokens=False).input_ids
    assert [len(g.members) for g in group_shared_prefixes([ids] * 4)] == [4]
    sampling = Sampling(temperature=0.8, top_p=0.95, seeds=(0, 1, 2, 3))
    first = generate_batched(model, tokenizer, [prompt] * 4, max_new_tokens=8, sampling=sampling)
    again = generate_batched(model, tokenizer, [prompt] * 4, max_new_tokens=8, sampling=sampling)
    assert first == again and len(set(first)) > 1
    greedy = generate_batched(model, tokenizer, [prompt] * 4, max_new_tokens=8)
    assert len(set(greedy)) == 1
    assert greedy == generate_batched(model, tokenizer, [prompt] * 4, max_new_tokens=8, share_prefixes=False)


def test_only_models_attending_over_the_whole_context_take_the_shortcuts():
    """Sliding-window layers count cache slots, so the padding between a shared beginning and the rest
    (generation) or per-example attention without their window (training) would change what they see."""
    from types import SimpleNamespace

    from transformers import Gemma3TextConfig, LlamaConfig, MistralConfig

    from lingotune.models.attention_layout import full_attention_only

    assert full_attention_only(SimpleNamespace(config=LlamaConfig()))
    assert not full_attention_only(SimpleNamespace(config=MistralConfig(sliding_window=4096)))
    assert not full_attention_only(SimpleNamespace(config=Gemma3TextConfig()))
