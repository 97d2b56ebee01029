"""Activation checkpointing on the long micro-batches only (train/checkpointing.py): which layers, and
that the chosen ones really recompute in the backward pass while the short batches do not."""

from __future__ import annotations

import pytest
import torch

from lingotune.train.checkpointing import checkpoint_long_batches, layers_to_checkpoint
from lingotune.train.spec import TrainSpec


def test_layers_to_checkpoint_spreads_just_enough_layers():
    assert layers_to_checkpoint(1024, 1024, 30) == set()
    chosen = layers_to_checkpoint(1536, 1024, 30)  # 1/3 over the budget: a third of the layers
    assert chosen == set(range(0, 30, 3))
    assert layers_to_checkpoint(10**6, 1024, 30) == set(range(30))
    counts = [len(layers_to_checkpoint(n, 1000, 24)) for n in range(900, 5000, 100)]
    assert counts == sorted(counts) and counts[-1] < 24 and counts[1] == 0 and counts[2] == 3  # ⌈24 · 100/1100⌉


def _forward_counts(model, tokens: int) -> list[int]:
    """How often each decoder layer's attention ran for one forward + backward of a (1, tokens) batch.
    (The recompute calls the layer's forward function, not the layer, so a hook on the layer never sees
    it; and it stops inside the MLP once the last saved tensor is back, so the MLP's hook never fires.)"""
    from transformers.modeling_layers import GradientCheckpointingLayer

    layers = [m for m in model.modules() if isinstance(m, GradientCheckpointingLayer)]
    counts = [0] * len(layers)
    hooks = [layer.self_attn.register_forward_hook(lambda *_, i=i: counts.__setitem__(i, counts[i] + 1))
             for i, layer in enumerate(layers)]
    ids = torch.randint(0, model.config.vocab_size, (1, tokens))
    model(input_ids=ids, labels=ids).loss.backward()
    for hook in hooks:
        hook.remove()
    return counts


def test_only_long_micro_batches_recompute_and_gradients_stay_the_same(tiny_model):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    def lora_model():
        torch.manual_seed(0)
        base = AutoModelForCausalLM.from_pretrained(tiny_model.path, dtype=torch.float32, use_safetensors=True)
        return get_peft_model(base, LoraConfig(r=4, target_modules="all-linear", task_type="CAUSAL_LM"))

    model, reference = lora_model(), lora_model()
    n_layers = model.config.num_hidden_layers
    assert n_layers >= 2
    checkpoint_long_batches(model, budget_tokens=32)
    model.train()
    assert _forward_counts(model, 32) == [1] * n_layers  # within the budget: no recompute
    long = _forward_counts(model, 64)  # twice the budget: half the layers run again in the backward
    assert sorted(long) == [1] * (n_layers - n_layers // 2) + [2] * (n_layers // 2)
    assert _forward_counts(model, 16) == [1] * n_layers  # the flags follow each micro-batch
    torch.manual_seed(1)
    ids = torch.randint(0, model.config.vocab_size, (2, 48))
    for m in (model, reference):
        m.zero_grad()
        m(input_ids=ids, labels=ids).loss.backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    assert grads
    for name, p in reference.named_parameters():
        if p.grad is not None:
            torch.testing.assert_close(grads[name], p.grad, rtol=1e-5, atol=1e-7)


def test_checkpointing_all_and_only_long_batches_is_refused():
    with pytest.raises(ValueError, match="set one of them"):
        TrainSpec(gradient_checkpointing=True, checkpoint_above_tokens=1024)
