"""Peak memory and time of one forward + backward on the quickstart's longest micro-batch (its 4 longest
training examples, negative twins included: 4 × 384 tokens) and on a median one, from a trimmed heap,
with activations recomputed for micro-batches over BUDGET tokens (issue 11; train/checkpointing.py).

Run from the repository root: ``python docs/measurements/issue11/longest_micro_batch_probe.py BUDGET``
(``none``: every activation kept; ``all``: every layer recomputed, ``train.gradient_checkpointing``).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))


def main(budget: str) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from lingotune.core.context import RunContext
    from lingotune.core.peak_memory import StepPeak, return_freed_memory, rss_mb
    from lingotune.models.chat import ensure_chat_template
    from lingotune.models.loading import load_tokenizer
    from lingotune.models.sources import resolve_model
    from lingotune.plan.load import load_recipe
    from lingotune.train.checkpointing import checkpoint_long_batches
    from lingotune.train.label_loss import unlikelihood_losses
    from lingotune.train.packing import PackingCollator
    from lingotune.train.run import tokenized_training_data

    recipe = load_recipe(REPO / "recipes" / "quickstart.yaml")
    resolved = resolve_model("smollm2-135m-instruct")
    tokenizer = load_tokenizer(resolved, padding_side="right")
    ensure_chat_template(tokenizer)
    ctx = RunContext(layout=None, seed=recipe.seed, language_names=recipe.language_names)
    data, _ = tokenized_training_data(recipe.data, recipe.train, tokenizer, ctx)
    data.sort(key=lambda t: -len(t.input_ids))
    model = AutoModelForCausalLM.from_pretrained(resolved.path, dtype=torch.bfloat16, use_safetensors=True)
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear",
                                             task_type="CAUSAL_LM"))
    if budget != "none":
        checkpoint_long_batches(model, 1 if budget == "all" else int(budget))
    model.train()
    collate = PackingCollator(tokenizer.pad_token_id)

    def micro_batch(start: int):
        return collate([{"input_ids": t.input_ids, "labels": t.labels} for t in data[start:start + 4]])

    def step(batch) -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            losses = unlikelihood_losses(model, batch, recipe.train.unlikelihood.weight)
        losses.sum().backward()

    step(micro_batch(200))  # warm-up
    for name, start in [("longest", 0), ("longest again", 0), ("median", len(data) // 2)]:
        batch = micro_batch(start)
        return_freed_memory()
        before = rss_mb()
        started = time.perf_counter()
        with StepPeak() as peak:
            step(batch)
        print(f"budget {budget}, {name}: {tuple(batch['input_ids'].shape)}, "
              f"+{peak.mb - before:.0f} MB, {time.perf_counter() - started:.2f} s")


if __name__ == "__main__":
    main(sys.argv[1])
