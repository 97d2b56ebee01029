"""Paired A/B timing of training micro-batches: two variants of one piece of the training step, timed
on the same micro-batches of the quickstart in one process, alternating, so a machine whose speed drifts
(the shared 2-core VM varies 15-45 % across an afternoon) still gives a ratio.

Each round runs every micro-batch once per variant, in an order that alternates which goes first, and
the result is the median and a bootstrap 95 % CI of the per-micro-batch ratio B/A (geometric mean).
Whole-run A/Bs here could not resolve 2-3 % (12 steps: 45.6-50.5 s for the same code).

Variants (``--variant``):
  ce-slices   the float32 cross-entropy over slices of the logits (before 2026-12-06) against splits
  rms-norm    transformers' Llama RMSNorm against the same through ``F.rms_norm`` (bit-identical)
  concat-lora PEFT's LoRA layers against the same joined with their frozen weights (train/joined_lora.py)

``python benchmarks/train_step_ab.py --variant ce-slices [--micro-batches 8] [--rounds 6] [--json OUT]``
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import random
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


@contextlib.contextmanager
def ce_slices():
    """The label loss as it was: slices of the logits (their backward fills a logits-sized gradient)."""
    import torch
    import torch.nn.functional as F

    from lingotune.train import label_loss

    def token_losses(model, inputs):
        inputs = dict(inputs)
        labels = inputs.pop("labels")
        inputs.pop("example_order", None)
        keep = label_loss._keep_mask(labels)
        targets, _ = label_loss._decode_targets(labels[:, 1:][keep[:, :-1]])
        outputs = model(**inputs, logits_to_keep=keep, use_cache=False)
        logits = outputs.logits.reshape(-1, outputs.logits.size(-1))
        chunk = label_loss.CE_CHUNK
        losses = [F.cross_entropy(logits[i:i + chunk].float(), targets[i:i + chunk], reduction="none")
                  for i in range(0, logits.size(0), chunk)]
        return torch.cat(losses), keep

    saved = label_loss.token_losses
    label_loss.token_losses = token_losses
    try:
        yield
    finally:
        label_loss.token_losses = saved


@contextlib.contextmanager
def rms_norm_functional():
    """Llama's RMSNorm through ``F.rms_norm`` in float32, then the weight (bit-identical outputs)."""
    import torch
    from transformers.models.llama import modeling_llama

    def forward(self, hidden_states):
        normed = torch.nn.functional.rms_norm(hidden_states.float(), (hidden_states.shape[-1],), None,
                                              self.variance_epsilon)
        return self.weight * normed.to(hidden_states.dtype)

    saved = modeling_llama.LlamaRMSNorm.forward
    modeling_llama.LlamaRMSNorm.forward = forward
    try:
        yield
    finally:
        modeling_llama.LlamaRMSNorm.forward = saved


@contextlib.contextmanager
def joined_lora(model):
    """LoRA layers joined with their frozen weights (train/joined_lora.py) for the variant's micro-batch;
    split again after it (outside the timed part), so the other variant runs PEFT's layers on contiguous
    weights."""
    from lingotune.train.joined_lora import join_lora_layers, split_lora_layers

    join_lora_layers(model)
    try:
        yield
    finally:
        split_lora_layers(model)


VARIANTS = {"ce-slices": ("slices", "split"), "rms-norm": ("transformers", "functional"),
            "concat-lora": ("peft", "joined")}


def main() -> None:
    with contextlib.ExitStack() as stack:
        _main(stack)


def _main(stack: contextlib.ExitStack) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--variant", choices=sorted(VARIANTS), required=True)
    parser.add_argument("--micro-batches", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--json", type=Path)
    options = parser.parse_args()

    import torch

    from lingotune.core.context import RunContext
    from lingotune.core.layout import RunLayout
    from lingotune.models.loading import load_tokenizer, resolve_dtype
    from lingotune.models.sources import resolve_model
    from lingotune.plan.load import load_recipe
    from lingotune.train.run import tokenized_training_data
    from lingotune.train.sft import make_trainer, prepare_trainable, training_arguments

    work = Path("/tmp/lingotune-train-step-ab")
    recipe = load_recipe(REPO / "recipes" / "quickstart.yaml")
    ctx = RunContext(layout=RunLayout(work), seed=recipe.seed, language_names=recipe.language_names)
    spec = recipe.train.model_copy(update={"dtype": ctx.resolve_dtype(recipe.train.dtype)})
    model = resolve_model("smollm2-135m-instruct")
    tokenizer = load_tokenizer(model, padding_side="right")
    examples, _ = tokenized_training_data(recipe.data, spec, tokenizer, ctx)
    trained = prepare_trainable(model, spec, recipe.seed, False)
    trainer = make_trainer(trained, tokenizer, examples, training_arguments(spec, work / "checkpoints", recipe.seed),
                           [], spec.packing, spec.unlikelihood.weight if spec.unlikelihood else 0.0)
    batches = []
    for batch in trainer.get_train_dataloader():
        batches.append(batch)
        if len(batches) == options.micro_batches:
            break
    a_name, b_name = VARIANTS[options.variant]

    def variant(which: str):
        if options.variant == "ce-slices":
            return ce_slices() if which == "a" else contextlib.nullcontext()
        if options.variant == "concat-lora":
            return joined_lora(trainer.model) if which == "b" else contextlib.nullcontext()
        return rms_norm_functional() if which == "b" else contextlib.nullcontext()

    bf16 = resolve_dtype(spec.dtype) == torch.bfloat16
    trainer.current_gradient_accumulation_steps = spec.grad_accum

    def timed(which: str, batch) -> float:
        # the Trainer's autocast comes from accelerate's prepared model, which training_step alone skips
        with variant(which), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            started = time.perf_counter()
            trainer.training_step(trainer.model, batch)
            elapsed = time.perf_counter() - started
        trainer.model.zero_grad(set_to_none=True)
        return elapsed

    trainer.model.train()
    trainer.create_optimizer_and_scheduler(num_training_steps=1)
    if bf16:  # as while the Trainer trains (train.callbacks.SkipAdapterInputCasts; since 2026-12-06 night)
        from peft.helpers import disable_input_dtype_casting

        stack.enter_context(disable_input_dtype_casting(trainer.model))
    for batch in batches[:2]:  # warm-up: first calls build oneDNN primitives for each shape
        timed("a", batch), timed("b", batch)
    times = {"a": [[0.0] * len(batches) for _ in range(options.rounds)],
             "b": [[0.0] * len(batches) for _ in range(options.rounds)]}
    for r in range(options.rounds):
        for i, batch in enumerate(batches):
            order = ("a", "b") if (r + i) % 2 == 0 else ("b", "a")
            for which in order:
                times[which][r][i] = timed(which, batch)
        print(f"round {r + 1}: {a_name} {sum(times['a'][r]):.2f} s, {b_name} {sum(times['b'][r]):.2f} s", flush=True)
    logs = [math.log(b / a) for ra, rb in zip(times["a"], times["b"], strict=True) for a, b in zip(ra, rb, strict=True)]
    rng = random.Random(0)
    means = sorted(sum(rng.choice(logs) for _ in logs) / len(logs) for _ in range(2000))
    result = {
        "variant": options.variant, "a": a_name, "b": b_name, "micro_batches": len(batches), "rounds": options.rounds,
        "tokens": [int(b["input_ids"].numel()) for b in batches],
        "a_s_per_round": [round(sum(r), 3) for r in times["a"]],
        "b_s_per_round": [round(sum(r), 3) for r in times["b"]],
        "ratio_b_over_a_geomean": round(math.exp(sum(logs) / len(logs)), 4),
        "ratio_ci95": [round(math.exp(means[50]), 4), round(math.exp(means[1949]), 4)],
        "torch": torch.__version__,
    }
    print(json.dumps(result, indent=1))
    if options.json:
        options.json.write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
