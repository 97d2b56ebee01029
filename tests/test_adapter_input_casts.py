"""LoRA training under autocast skips PEFT's cast of each adapter input to float32: the same gradients,
and the casts are back once training ends."""

from __future__ import annotations

import torch


def _lora_model(tiny_model):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(tiny_model.path, dtype=torch.bfloat16, use_safetensors=True)
    config = LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False)
    return get_peft_model(base, config)  # bf16 base, float32 adapters: what lingotune's LoRA trains


def test_skipping_the_adapter_input_casts_under_autocast_changes_no_gradient(tiny_model):
    from peft.helpers import disable_input_dtype_casting

    model = _lora_model(tiny_model)
    ids = torch.randint(0, 200, (2, 24))

    def grads():
        model.zero_grad()
        with torch.autocast("cpu", dtype=torch.bfloat16):
            model(input_ids=ids, labels=ids).loss.backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

    cast = grads()
    assert sum(hasattr(m, "cast_input_dtype_enabled") for m in model.modules()) > 0
    with disable_input_dtype_casting(model):
        assert not any(m.cast_input_dtype_enabled for m in model.modules() if hasattr(m, "cast_input_dtype_enabled"))
        skipped = grads()
    assert cast.keys() == skipped.keys() and cast
    for name, grad in cast.items():
        assert torch.equal(grad, skipped[name]), name


def train_two_bf16_steps(model, resolved, tmp_path, on_step_end):
    """Two packed bf16 steps of lingotune's Trainer on 8 replay examples, ``on_step_end(model)`` after each
    (what the Trainer's callbacks have set up while it trains); returns the tokenized examples."""
    from transformers import TrainerCallback

    from lingotune.models.loading import load_tokenizer
    from lingotune.train.sft import make_trainer, training_arguments
    from lingotune.train.spec import TrainSpec
    from lingotune.train.tokenize import tokenize_examples
    from tests.test_packing import REPLAY, load_alpaca

    tokenizer = load_tokenizer(resolved, padding_side="right")
    tokenized, _ = tokenize_examples(tokenizer, load_alpaca(REPLAY, "en")[:8], max_length=256)
    spec = TrainSpec(batch_size=2, max_steps=2, save_steps=100, dtype="bfloat16")

    class Watch(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kwargs):
            on_step_end(model)

    trainer = make_trainer(model, tokenizer, tokenized, training_arguments(spec, tmp_path, 0, save_strategy="no"),
                           [Watch()], True)
    trainer.train()
    return tokenized


def test_training_skips_the_casts_and_restores_them_after(tiny_model, tmp_path):
    model = _lora_model(tiny_model)
    seen: list[bool] = []
    tokenized = train_two_bf16_steps(model, tiny_model, tmp_path, lambda trained: seen.extend(
        m.cast_input_dtype_enabled for m in trained.modules() if hasattr(m, "cast_input_dtype_enabled")))
    assert seen and not any(seen)
    layers = [m for m in model.modules() if hasattr(m, "cast_input_dtype_enabled")]
    assert layers and all(m.cast_input_dtype_enabled for m in layers)
    with torch.no_grad():  # outside autocast the bf16 activations meet float32 adapters through the casts
        model(input_ids=torch.tensor([tokenized[0].input_ids]))
