"""Time the quickstart's micro-batches (joined LoRA, bf16 autocast) with N threads in one process; run two at
once (NPROC=2) to see whether two one-thread processes share the 2 cores better than one process
uses both. ``python cpu_ranks_probe.py THREADS ROUNDS TAG`` (env BS: micro-batch size, NPROC: processes
started together). Results: cpu_ranks_2026-12-06.json."""
import contextlib, sys, time, json, os
from pathlib import Path
REPO = Path("/work/main"); sys.path.insert(0, str(REPO))
import torch
threads = int(sys.argv[1]); rounds = int(sys.argv[2]); tag = sys.argv[3]; BS = int(os.environ.get("BS", "4"))
torch.set_num_threads(threads)
from lingotune.core.context import RunContext
from lingotune.core.layout import RunLayout
from lingotune.models.loading import load_tokenizer, resolve_dtype
from lingotune.models.sources import resolve_model
from lingotune.plan.load import load_recipe
from lingotune.train.run import tokenized_training_data
from lingotune.train.sft import make_trainer, prepare_trainable, training_arguments
from lingotune.train.joined_lora import join_lora_layers
from peft.helpers import disable_input_dtype_casting
work = Path(f"/tmp/probe-{tag}")
recipe = load_recipe(REPO / "recipes" / "quickstart.yaml")
ctx = RunContext(layout=RunLayout(work), seed=recipe.seed, language_names=recipe.language_names)
spec = recipe.train.model_copy(update={"dtype": ctx.resolve_dtype(recipe.train.dtype), "batch_size": BS})
model = resolve_model("smollm2-135m-instruct")
tokenizer = load_tokenizer(model, padding_side="right")
examples, _ = tokenized_training_data(recipe.data, spec, tokenizer, ctx)
trained = prepare_trainable(model, spec, recipe.seed, False)
trainer = make_trainer(trained, tokenizer, examples, training_arguments(spec, work / "checkpoints", recipe.seed),
                       [], spec.packing, spec.unlikelihood.weight if spec.unlikelihood else 0.0)
batches = []
for b in trainer.get_train_dataloader():
    batches.append(b)
    if len(batches) == 32 // BS: break
trainer.current_gradient_accumulation_steps = 2
trainer.model.train(); trainer.create_optimizer_and_scheduler(num_training_steps=1)
join_lora_layers(trainer.model)
def step(b):
    with torch.autocast("cpu", dtype=torch.bfloat16):
        trainer.training_step(trainer.model, b)
    trainer.model.zero_grad(set_to_none=True)
with disable_input_dtype_casting(trainer.model):
    for b in batches[:2]: step(b)
    # barrier through file so concurrent processes start together
    Path(f"/tmp/exp/ready-{tag}").touch()
    while len(list(Path("/tmp/exp").glob("ready-*"))) < int(os.environ.get("NPROC", "1")): time.sleep(0.05)
    out = []
    for r in range(rounds):
        t = time.perf_counter()
        for b in batches: step(b)
        out.append(round(time.perf_counter() - t, 3))
import resource
print(json.dumps({"maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss//1024, "bs": BS, "tag": tag, "threads": threads, "rounds": out, "tokens": [int(b["input_ids"].numel()) for b in batches]}), flush=True)
