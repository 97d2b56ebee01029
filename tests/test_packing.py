"""Packed (flattened) batches and target-only logits give the padded batch's loss and gradients.

Reference: the model's own loss (transformers' ForCausalLMLoss over full logits) on right-padded rows.
"""

from __future__ import annotations

import pytest
import torch

from lingotune.data.loaders import load_alpaca
from lingotune.models.loading import load_tokenizer
from lingotune.train.label_loss import example_losses, token_losses
from lingotune.train.packing import PackingCollator, training_collator
from lingotune.train.tokenize import tokenize_examples
from tests.conftest import QUICKSTART_DATA

REPLAY = QUICKSTART_DATA / "instructions_en" / "self_instruct.alpaca.jsonl"


def _features(model, n: int = 6):
    tokenizer = load_tokenizer(model, padding_side="right")
    examples = load_alpaca(REPLAY, "en")[:n]
    tokenized, _ = tokenize_examples(tokenizer, examples, max_length=512)
    return tokenizer, [{"input_ids": e.input_ids, "labels": e.labels} for e in tokenized]


def _model(resolved, seed: int = 0):
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    return AutoModelForCausalLM.from_pretrained(resolved.path, dtype=torch.float32, use_safetensors=True)


def _loss_and_grads(model, loss):
    model.zero_grad()
    loss.backward()
    return loss.detach().item(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}


def _reference(model, tokenizer, features):
    batch = training_collator(tokenizer, model, packing=False)(features)
    return _loss_and_grads(model, model(**batch).loss)


def _packed(model, features):
    batch = PackingCollator()(features)
    assert batch["input_ids"].shape[0] < len(features) and "attention_mask" not in batch  # rows hold several
    losses, _ = token_losses(model, batch)
    return _loss_and_grads(model, losses.mean())


@pytest.mark.parametrize("which", ["tiny_model", pytest.param("smollm2", marks=pytest.mark.slow)])
def test_packed_loss_and_gradients_equal_the_padded_ones(which, request):
    resolved = request.getfixturevalue(which)
    model = _model(resolved)
    tokenizer, features = _features(resolved)
    lengths = [len(f["input_ids"]) for f in features]
    assert max(lengths) > 2 * min(lengths)  # padding would matter
    ref_loss, ref_grads = _reference(model, tokenizer, features)
    loss, grads = _packed(model, features)
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    assert grads.keys() == ref_grads.keys()
    for name, grad in grads.items():
        torch.testing.assert_close(grad, ref_grads[name], rtol=1e-3, atol=1e-5, msg=name)


@pytest.mark.parametrize("which", ["tiny_model", pytest.param("smollm2", marks=pytest.mark.slow)])
def test_per_example_attention_in_one_row_gives_the_padded_loss_and_gradients(which, request):
    """CPU training's default (models/segment_attention.py): the micro-batch in one row, one causal SDPA
    call per example. The padded reference runs through the same model, so its fallback (transformers'
    SDPA with the padding mask) is checked too."""
    from lingotune.models.segment_attention import use_segment_attention

    resolved = request.getfixturevalue(which)
    model = _model(resolved)
    assert use_segment_attention(model)
    tokenizer, features = _features(resolved)
    ref_loss, ref_grads = _reference(model, tokenizer, features)
    batch = training_collator(tokenizer, model, packing=True)(features)
    assert batch["input_ids"].shape[0] == 1 and batch["cu_seq_lens_q"].tolist()[-1] == sum(
        len(f["input_ids"]) for f in features)  # one row, no padding
    losses, _ = token_losses(model, batch)
    loss, grads = _loss_and_grads(model, losses.mean())
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    assert grads.keys() == ref_grads.keys()
    for name, grad in grads.items():
        torch.testing.assert_close(grad, ref_grads[name], rtol=1e-3, atol=1e-5, msg=name)


def test_per_example_attention_never_crosses_an_example_boundary(tiny_model):
    from lingotune.models.segment_attention import use_segment_attention

    model = _model(tiny_model).eval()
    assert use_segment_attention(model)
    tokenizer, features = _features(tiny_model, 3)
    collate = training_collator(tokenizer, model, packing=True)
    changed = [dict(f) for f in features]
    changed[1] = {"input_ids": [(t + 7) % 1000 for t in features[1]["input_ids"]], "labels": features[1]["labels"]}
    with torch.no_grad():
        before, _ = example_losses(model, collate(features))
        after, _ = example_losses(model, collate(changed))
        alone = [float(example_losses(model, collate([f]))[0][0]) for f in features]
    assert float(before[1]) != pytest.approx(float(after[1]), rel=1e-3)
    torch.testing.assert_close(after[[0, 2]], before[[0, 2]])  # neither the example before nor after moved
    assert [float(x) for x in before] == pytest.approx(alone, rel=1e-5)


def test_per_example_attention_in_bf16_runs_in_float32():
    """bf16 inputs (training under bf16 autocast) are attended in float32: PyTorch's CPU flash kernel is
    1.2-2x faster that way for short examples (its bf16 backward is slow), and more exact. Each example's output
    equals float32 SDPA on that example alone, rounded to bf16, and the gradient reaches the inputs."""
    from types import SimpleNamespace

    from lingotune.models.segment_attention import segment_sdpa

    torch.manual_seed(0)
    edges = [0, 5, 37, 64]
    query = torch.randn(1, 6, 64, 16, dtype=torch.bfloat16, requires_grad=True)
    key, value = (torch.randn(1, 2, 64, 16, dtype=torch.bfloat16, requires_grad=True) for _ in range(2))
    module = SimpleNamespace(num_key_value_groups=3)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output, _ = segment_sdpa(module, query, key, value, None, scaling=0.25, cu_seq_lens_q=torch.tensor(edges))
    assert output.dtype == torch.bfloat16 and output.shape == (1, 64, 6, 16)
    for start, end in zip(edges[:-1], edges[1:], strict=True):
        alone = torch.nn.functional.scaled_dot_product_attention(
            query[:, :, start:end].float(), key[:, :, start:end].float(), value[:, :, start:end].float(),
            scale=0.25, is_causal=True, enable_gqa=True).to(torch.bfloat16).transpose(1, 2)
        assert torch.equal(output[:, start:end], alone)
    output.float().square().sum().backward()
    assert all(t.grad is not None and t.grad.dtype == torch.bfloat16 and t.grad.abs().sum() > 0
               for t in (query, key, value))


@pytest.mark.parametrize("tokens", [1, 7], ids=["decoding", "prompt-rest"])
def test_masked_grouped_query_attention_in_generation_equals_transformers(tokens, monkeypatch):
    """Without gradients, a masked call of grouped-query heads (a generation's decoding steps, and a shared
    prefix's rests) is left to PyTorch's grouping instead of transformers' repeated keys: same output
    (float32); with gradients it is transformers' own path."""
    from types import SimpleNamespace

    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    from lingotune.models import segment_attention
    from lingotune.models.segment_attention import segment_sdpa

    calls = []
    monkeypatch.setattr(segment_attention, "sdpa_attention_forward",
                        lambda *args, **kwargs: calls.append(1) or sdpa_attention_forward(*args, **kwargs))
    torch.manual_seed(0)
    query = torch.randn(6, 6, tokens, 16)
    key, value = torch.randn(6, 2, 20, 16), torch.randn(6, 2, 20, 16)
    mask = torch.ones(6, 1, tokens, 20, dtype=torch.bool).tril(20 - tokens)
    for row, padding in enumerate([9, 6, 0, 3, 12, 2]):  # left-padded rows
        mask[row, :, :, :padding] = False
    mask[1, :, :, 10:12] = False  # and padding in the middle (a shared prefix's rests)
    module = SimpleNamespace(num_key_value_groups=3, is_causal=True)
    expected, _ = sdpa_attention_forward(module, query, key, value, mask, scaling=0.25)
    with torch.inference_mode():
        output, _ = segment_sdpa(module, query, key, value, mask, scaling=0.25)
    torch.testing.assert_close(output, expected, atol=1e-6, rtol=1e-5)
    assert not calls
    query.requires_grad_(True)
    segment_sdpa(module, query, key, value, mask, scaling=0.25)
    assert len(calls) == 1


def test_attention_never_crosses_an_example_boundary(tiny_model):
    model = _model(tiny_model).eval()
    _, features = _features(tiny_model, 3)
    changed = [dict(f) for f in features]
    changed[0] = {"input_ids": [(t + 7) % 1000 for t in features[0]["input_ids"]], "labels": features[0]["labels"]}
    with torch.no_grad():
        before, counts = example_losses(model, PackingCollator()(features))
        after, _ = example_losses(model, PackingCollator()(changed))
        alone = [float(example_losses(model, PackingCollator()([f]))[0][0]) for f in features]
    assert float(before[0]) != pytest.approx(float(after[0]), rel=1e-3)  # the change reached example 0 ...
    torch.testing.assert_close(after[1:], before[1:])  # ... and nothing after it
    assert [float(x) for x in before] == pytest.approx(alone, rel=1e-5)  # packed = each example alone
    assert counts.tolist() == [sum(1 for x in f["labels"][1:] if x != -100) for f in features]


def test_per_example_losses_padded_equal_packed(tiny_model):
    model = _model(tiny_model).eval()
    tokenizer, features = _features(tiny_model, 5)
    with torch.no_grad():
        padded, padded_counts = example_losses(model, training_collator(tokenizer, model, False)(features))
        packed, packed_counts = example_losses(model, PackingCollator()(features))
    torch.testing.assert_close(packed, padded, rtol=1e-5, atol=1e-6)
    assert packed_counts.tolist() == padded_counts.tolist()


def test_weights_travel_with_packed_rows(tiny_model):
    _, features = _features(tiny_model, 3)
    batch = PackingCollator()([{**f, "weight": w} for f, w in zip(features, [1.0, 0.0, 0.5], strict=True)])
    assert int((batch["position_ids"] == 0).sum()) == 3
    assert batch["weight"].tolist() == [1.0, 0.0, 0.5]  # in feature order ...
    lengths = [len(f["input_ids"]) for f in features]  # ... while rows hold the longest first
    assert batch["example_order"].tolist() == sorted(range(3), key=lambda k: -lengths[k])


def _trajectory(resolved, tmp_path, packing: bool, **spec) -> list[float]:
    import json

    from lingotune.train.sft import train_sft
    from lingotune.train.spec import TrainSpec
    from lingotune.train.tokenize import TokenizedExample

    tokenizer = load_tokenizer(resolved, padding_side="right")
    tokenized, _ = tokenize_examples(tokenizer, load_alpaca(REPLAY, "en")[:24], max_length=512)
    examples = [TokenizedExample(e.input_ids, e.assistant_masks) for e in tokenized]
    out = tmp_path / ("packed" if packing else "padded")
    settings = dict(method="lora", batch_size=4, max_steps=5, learning_rate=1e-3, dtype="float32", save_steps=100,
                    group_by_length=False)  # the same batches for both layouts
    train_sft(resolved, tokenizer, examples, TrainSpec(**{**settings, **spec}, packing=packing), out, seed=0)
    return [json.loads(line)["loss"] for line in (out / "metrics.jsonl").read_text().splitlines()
            if "loss" in json.loads(line)]


def test_packed_training_follows_the_padded_loss_trajectory(tiny_model, tmp_path):
    padded = _trajectory(tiny_model, tmp_path, packing=False, grad_accum=2)
    packed = _trajectory(tiny_model, tmp_path, packing=True, grad_accum=2)
    assert len(packed) == len(padded) == 5
    assert padded[0] != pytest.approx(padded[-1], rel=1e-3)  # it learns: a trajectory, not a constant
    assert packed == pytest.approx(padded, rel=1e-4)


def test_two_micro_batches_of_four_train_like_one_batch_of_eight(tiny_model, tmp_path):
    # the quickstart trains 4 x 2 to lower its peak memory: the same examples per step, the loss normalised
    # over all 8 examples' targets, so the same trajectory as one batch of 8
    whole = _trajectory(tiny_model, tmp_path / "whole", packing=True, batch_size=8)
    split = _trajectory(tiny_model, tmp_path / "split", packing=True, batch_size=4, grad_accum=2)
    assert len(whole) == len(split) == 5
    assert split == pytest.approx(whole, rel=1e-4)


def test_checkpointing_the_long_micro_batches_keeps_the_loss_trajectory(tiny_model, tmp_path):
    # train.checkpoint_above_tokens recomputes some layers of the micro-batches over 64 tokens (most of
    # these): the same trajectory as keeping every activation
    kept = _trajectory(tiny_model, tmp_path / "kept", packing=True)
    recomputed = _trajectory(tiny_model, tmp_path / "recomputed", packing=True, checkpoint_above_tokens=64)
    assert len(kept) == len(recomputed) == 5
    assert recomputed == pytest.approx(kept, rel=1e-5)
