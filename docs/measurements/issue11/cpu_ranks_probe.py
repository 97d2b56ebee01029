"""Time the quickstart's micro-batches (joined LoRA, bf16 autocast) with N threads in one process; start two
at once (NPROC=2) to see whether two one-thread processes share the 2 cores better than one process uses
both. Results: cpu_ranks_2026-12-06.json.

``python cpu_ranks_probe.py THREADS ROUNDS TAG`` (env BS: micro-batch size, default 4; NPROC: processes
started together, which wait for each other before timing)."""

from __future__ import annotations

import json
import os
import resource
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))
READY = Path("/tmp/cpu-ranks-probe")


def main() -> None:
    import torch
    from peft.helpers import disable_input_dtype_casting

    from lingotune.core.context import RunContext
    from lingotune.core.layout import RunLayout
    from lingotune.models.loading import load_tokenizer
    from lingotune.models.sources import resolve_model
    from lingotune.plan.load import load_recipe
    from lingotune.train.joined_lora import join_lora_layers
    from lingotune.train.run import tokenized_training_data
    from lingotune.train.sft import make_trainer, prepare_trainable, training_arguments

    threads, rounds, tag = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    batch_size, processes = int(os.environ.get("BS", "4")), int(os.environ.get("NPROC", "1"))
    torch.set_num_threads(threads)
    work = Path(f"/tmp/probe-{tag}")
    recipe = load_recipe(REPO / "recipes" / "quickstart.yaml")
    ctx = RunContext(layout=RunLayout(work), seed=recipe.seed, language_names=recipe.language_names)
    spec = recipe.train.model_copy(update={"dtype": ctx.resolve_dtype(recipe.train.dtype), "batch_size": batch_size})
    model = resolve_model("smollm2-135m-instruct")
    tokenizer = load_tokenizer(model, padding_side="right")
    examples, _ = tokenized_training_data(recipe.data, spec, tokenizer, ctx)
    trainer = make_trainer(prepare_trainable(model, spec, recipe.seed, False), tokenizer, examples,
                           training_arguments(spec, work / "checkpoints", recipe.seed), [], spec.packing,
                           spec.unlikelihood.weight if spec.unlikelihood else 0.0)
    batches = []
    for batch in trainer.get_train_dataloader():  # the same 32 examples whatever the micro-batch size
        batches.append(batch)
        if len(batches) == 32 // batch_size:
            break
    trainer.current_gradient_accumulation_steps = 2
    trainer.model.train()
    trainer.create_optimizer_and_scheduler(num_training_steps=1)
    join_lora_layers(trainer.model)

    def step(batch) -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            trainer.training_step(trainer.model, batch)
        trainer.model.zero_grad(set_to_none=True)

    seconds = []
    with disable_input_dtype_casting(trainer.model):
        for batch in batches[:2]:  # warm-up: oneDNN builds its primitives per shape
            step(batch)
        READY.mkdir(exist_ok=True)
        (READY / tag).touch()
        while len(list(READY.iterdir())) < processes:
            time.sleep(0.05)
        for _ in range(rounds):
            started = time.perf_counter()
            for batch in batches:
                step(batch)
            seconds.append(round(time.perf_counter() - started, 3))
    print(json.dumps({"tag": tag, "threads": threads, "batch_size": batch_size, "seconds": seconds,
                      "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
                      "tokens": [int(b["input_ids"].numel()) for b in batches]}), flush=True)


if __name__ == "__main__":
    main()
