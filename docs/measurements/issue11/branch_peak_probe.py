"""Peak memory and time of one forward + backward on the quickstart's longest micro-batch (its 4 longest
training examples) and a median one, negative twins separate or as branches of their examples
(train/twin_branches.py), for each activation-recompute budget given (issue 11, 2026-12-06 evening).

Run from the repository root:
``python docs/measurements/issue11/branch_peak_probe.py {separate|branched} BUDGET [BUDGET ...]``
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))


def _size(example) -> int:
    return len(example.input_ids) + (len(example.branch.input_ids) if example.branch else 0)


def _feature(example) -> dict:
    feature = {"input_ids": example.input_ids, "labels": example.labels, "branch_start": -1}
    if example.branch:
        feature.update(branch_ids=example.branch.input_ids, branch_labels=example.branch.labels,
                       branch_start=example.branch.start)
    return feature


def main(mode: str, budgets: list[str]) -> None:
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    from lingotune.core.context import RunContext
    from lingotune.core.peak_memory import StepPeak, return_freed_memory, rss_mb
    from lingotune.models.chat import ensure_chat_template
    from lingotune.models.loading import load_tokenizer
    from lingotune.models.segment_attention import use_segment_attention
    from lingotune.models.sources import resolve_model
    from lingotune.plan.load import load_recipe
    from lingotune.train.checkpointing import checkpoint_long_batches
    from lingotune.train.label_loss import IGNORE_INDEX, unlikelihood_losses
    from lingotune.train.packing import PackingCollator
    from lingotune.train.run import tokenized_training_data
    from lingotune.train.twin_branches import attach_twins

    recipe = load_recipe(REPO / "recipes" / "quickstart.yaml")
    resolved = resolve_model("smollm2-135m-instruct")
    tokenizer = load_tokenizer(resolved, padding_side="right")
    ensure_chat_template(tokenizer)
    ctx = RunContext(layout=None, seed=recipe.seed, language_names=recipe.language_names)
    data, _ = tokenized_training_data(recipe.data, recipe.train, tokenizer, ctx)
    if mode == "branched":
        data = attach_twins(data)
    data.sort(key=lambda t: -_size(t))
    print(mode, "longest 4:", [_size(t) for t in data[:4]], "rows", len(data))
    collate = PackingCollator(tokenizer.pad_token_id, one_row=True)
    for budget in budgets:
        model = AutoModelForCausalLM.from_pretrained(resolved.path, dtype=torch.bfloat16, use_safetensors=True)
        model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear",
                                                 task_type="CAUSAL_LM"))
        use_segment_attention(model)
        if budget != "none":
            checkpoint_long_batches(model, int(budget))
        model.train()

        def step(batch, model=model) -> None:
            with torch.autocast("cpu", dtype=torch.bfloat16):
                losses = unlikelihood_losses(model, batch, recipe.train.unlikelihood.weight)
            losses.sum().backward()

        step(collate([_feature(t) for t in data[200:204]]))  # warm-up
        for name, start in [("longest", 0), ("longest again", 0), ("median", len(data) // 2)]:
            batch = collate([_feature(t) for t in data[start:start + 4]])
            return_freed_memory()
            before = rss_mb()
            started = time.perf_counter()
            with StepPeak() as peak:
                step(batch)
            targets = int((batch["labels"] != IGNORE_INDEX).sum())
            print(f"{mode} budget {budget}, {name}: {tuple(batch['input_ids'].shape)} targets {targets}, "
                  f"+{peak.mb - before:.0f} MB, {time.perf_counter() - started:.2f} s", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
