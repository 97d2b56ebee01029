"""Training throughput and memory: lingotune's trainer against TRL's SFTTrainer and plain Trainer.

Side by side in one run, on the same data (the quickstart's training mix, built by lingotune's own
builders from ``recipes/quickstart.yaml``), the same model, LoRA config (r 16, alpha 32, all linear
layers), batch size, learning rate, precision and sequence budget (``--max-length``; longer examples
are left out for every trainer alike):

- ``lingotune``: lingotune's trainer as ``lingotune run`` uses it (packed examples, logits at target
  positions only, shuffled batches; ``lingotune/train/packing.py``; on CPU each micro-batch is one row
  with one causal attention call per example, ``lingotune/models/segment_attention.py``);
- ``lingotune-rows``: the same with the packed rows of the trainer before that (rows as wide as the
  longest example, a block-diagonal mask in SDPA);
- ``lingotune-keepheap``: lingotune with ``train.trim_memory_every: 0`` (freed memory is not returned to
  the kernel between steps: the trainer before 2026-12-05);
- ``lingotune-accum2``: the same examples per step in two micro-batches of half the size
  (``train.grad_accum: 2``, what the quickstart does to lower its peak memory);
- ``lingotune-padded``: the same with ``train.packing: false`` (right-padded rows);
- ``trl``: TRL ``SFTTrainer`` with its defaults on prompt/completion data (completion-only loss);
- ``trl-packed``: the same with ``packing=True`` (TRL's best-fit-decreasing packing, padding-free);
- ``trainer``: plain transformers ``Trainer`` with right padding and the model's own loss;
- ``lingotune-compile`` / ``lingotune-ckpt``: lingotune with ``torch.compile`` / gradient checkpointing;
- ``lingotune-castinputs``: lingotune with PEFT casting each LoRA layer's input to float32 (the trainer
  before 2026-12-05 night; ``train.callbacks.SkipAdapterInputCasts``);
- ``lingotune-ckptlong``: lingotune recomputing part of the micro-batches over 1,024 tokens
  (``train.checkpoint_above_tokens: 1024``; ``lingotune/train/checkpointing.py``);
- ``lingotune-2cpu``: lingotune in two data-parallel processes of ``cores / 2`` threads, as ``lingotune run``
  trains LoRA on CPU (``lingotune/train/cpu_ranks.py``): the same global batch, half per process, under
  ``torch.distributed.run``; tokens are counted over both processes and its peak RSS is the two processes'
  peaks summed.

Each runs in a fresh subprocess (so peak memory is its own): ``--warmup`` steps, then ``--steps``
timed steps. Per step it counts, from the collated batch: *real* tokens (every non-pad token the
model reads: prompt and answer), *loss* tokens (targets). Printed: real tokens/s, loss tokens/s, median
step time, peak RSS (``ru_maxrss``: the process's high-water mark, model load included), peak GPU
memory on CUDA, and each trainer's tokens/s ratio to TRL's defaults. TRL's packed rows hold a different
number of examples per step than the others (it fills ``max_length``-token rows): compare tokens/s.

    python benchmarks/train_throughput.py [--device cpu|cuda] [--model smollm2|smollm2-random|llama-7b-random]
        [--trainers lingotune,trl,...] [--steps 6] [--warmup 2] [--json out.json]

``*-random`` models are random weights of the real architecture built from a config (SmolLM2-135M's,
Llama-2-7B's with the SmolLM2 tokenizer's vocabulary), so the benchmark runs where weights cannot travel.
Last results, machine and date: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
ALL = ["lingotune", "lingotune-2cpu", "lingotune-padded", "trl", "trl-packed", "trainer"]
EXTRA = ["lingotune-rows", "lingotune-compile", "lingotune-ckpt", "lingotune-ckptlong", "lingotune-accum2",
         "lingotune-keepheap", "lingotune-castinputs"]
LLAMA_7B = dict(hidden_size=4096, intermediate_size=11008, num_hidden_layers=32, num_attention_heads=32,
                num_key_value_heads=32, max_position_embeddings=4096, rms_norm_eps=1e-5, tie_word_embeddings=False)


# ------------------------------------------------------------------------------------------- the worker
def _model_and_tokenizer(name: str, device: str):
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, LlamaConfig

    from lingotune.models.loading import load_tokenizer, resolve_dtype
    from lingotune.models.sources import resolve_model

    resolved = resolve_model("smollm2-135m-instruct")
    tokenizer = load_tokenizer(resolved, padding_side="right")
    dtype = resolve_dtype("auto")
    if name == "smollm2":
        model = AutoModelForCausalLM.from_pretrained(resolved.path, dtype=dtype, use_safetensors=True)
    else:
        config = (AutoConfig.from_pretrained(resolved.path) if name == "smollm2-random" else
                  LlamaConfig(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                              eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, **LLAMA_7B))
        torch.manual_seed(0)
        with torch.device("cuda" if device == "cuda" else "cpu"):
            model = AutoModelForCausalLM.from_config(config, dtype=dtype)
    return model, tokenizer, dtype


def _lora_config():
    from peft import LoraConfig

    return LoraConfig(r=16, lora_alpha=32, lora_dropout=0.0, target_modules="all-linear", task_type="CAUSAL_LM")


def _examples(tokenizer, max_length: int, n: int):
    """The first ``n`` examples of the quickstart mix (as lingotune builds it) that fit ``max_length``
    tokens, and their tokenisation with assistant masks: every trainer gets exactly these."""
    from lingotune.data.assemble import build_training_examples
    from lingotune.data.recipe_builders import BuildContext
    from lingotune.models.chat import ensure_chat_template
    from lingotune.plan.load import load_recipe
    from lingotune.train.tokenize import tokenize_example

    recipe = load_recipe(REPO / "recipes" / "quickstart.yaml")
    ensure_chat_template(tokenizer)
    pairs = []
    context = BuildContext(seed=recipe.seed, language_names=recipe.language_names)
    for example in build_training_examples(recipe.data, context):
        tokenized = tokenize_example(tokenizer, example)
        if len(tokenized.input_ids) <= max_length:
            pairs.append((example, tokenized))
        if len(pairs) == n:
            break
    return [p[0] for p in pairs], [p[1] for p in pairs]


class _Counting:
    """Wraps a collator: records real and loss tokens of every batch it makes."""

    def __init__(self, inner, pad_id: int) -> None:
        self.inner, self.pad_id, self.batches = inner, pad_id, []

    def __call__(self, features):
        batch = self.inner(features)
        # packed collators send no attention mask: their rows' tails are padding, so count the examples
        # (until 2026-12-05 this counted ids.numel(), padding included)
        real = (int(batch["attention_mask"].sum()) if "attention_mask" in batch
                else sum(len(f["input_ids"]) for f in features))
        labels = batch["labels"]
        self.batches.append((real, int((labels[:, 1:] != -100).sum()), len(features)))
        return batch


def _step_timer():
    from transformers import TrainerCallback

    class StepTimer(TrainerCallback):
        def __init__(self) -> None:
            self.times: list[float] = []

        def on_step_begin(self, args, state, control, **kwargs):
            self._start = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            import torch

            if torch.cuda.is_available():
                torch.cuda.synchronize()
            self.times.append(time.perf_counter() - self._start)

    return StepTimer()


def _trainer(kind: str, model, tokenizer, args_common: dict, examples, tokenized, max_length: int, out: Path):
    from transformers import DataCollatorForSeq2Seq, Trainer, TrainingArguments

    if kind.startswith("trl"):
        from datasets import Dataset
        from trl import SFTConfig, SFTTrainer

        rows = [{"prompt": e.messages[:-1], "completion": e.messages[-1:]} for e in examples]
        config = SFTConfig(output_dir=str(out), max_length=max_length, packing=kind == "trl-packed", **args_common)
        trainer = SFTTrainer(model=model, args=config, train_dataset=Dataset.from_list(rows),
                             processing_class=tokenizer, peft_config=_lora_config())
        return trainer
    from peft import get_peft_model

    if kind not in ("trainer", "lingotune-padded", "lingotune-rows", "lingotune-compile"):
        from lingotune.models.segment_attention import use_segment_attention

        use_segment_attention(model)  # as train.sft.prepare_trainable does for packed training
    model = get_peft_model(model, _lora_config())
    from datasets import Dataset

    data = Dataset.from_dict({"input_ids": [e.input_ids for e in tokenized], "labels": [e.labels for e in tokenized]})
    if kind == "trainer":
        return Trainer(model=model, args=TrainingArguments(output_dir=str(out), **args_common), train_dataset=data,
                       data_collator=DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=-100))
    from lingotune.train.sft import make_trainer, training_arguments
    from lingotune.train.spec import TrainSpec

    spec = TrainSpec(batch_size=args_common["per_device_train_batch_size"],
                     grad_accum=args_common["gradient_accumulation_steps"], max_steps=args_common["max_steps"],
                     learning_rate=args_common["learning_rate"], save_steps=10_000,
                     dtype="bfloat16" if args_common["bf16"] else "float32", packing=kind != "lingotune-padded",
                     compile=kind == "lingotune-compile", gradient_checkpointing=kind == "lingotune-ckpt",
                     trim_memory_every=0 if kind == "lingotune-keepheap" else 1)
    if kind == "lingotune-ckptlong":  # the quickstart's setting: recompute part of micro-batches over 1,024 tokens
        from lingotune.train.checkpointing import checkpoint_long_batches

        checkpoint_long_batches(model, 1024)
    trainer = make_trainer(model, tokenizer, tokenized, training_arguments(spec, out, 0, save_strategy="no"), [],
                           spec.packing, trim_memory_every=spec.trim_memory_every)
    if kind == "lingotune-castinputs":
        from lingotune.train.callbacks import SkipAdapterInputCasts

        trainer.remove_callback(SkipAdapterInputCasts)
    return trainer


def worker(kind: str, opts) -> dict:
    import resource

    import torch

    if opts.threads:
        torch.set_num_threads(opts.threads)
    model, tokenizer, dtype = _model_and_tokenizer(opts.model, opts.device)
    n = opts.batch_size * (opts.warmup + opts.steps)
    examples, tokenized = _examples(tokenizer, opts.max_length, n * 4)
    accum = 2 if kind == "lingotune-accum2" else 1  # the same examples per step, in two micro-batches
    processes = int(os.environ.get("WORLD_SIZE", "1"))  # lingotune-2cpu: each process takes its share
    args_common = dict(per_device_train_batch_size=opts.batch_size // accum // processes,
                       gradient_accumulation_steps=accum,
                       max_steps=opts.warmup + opts.steps,
                       learning_rate=2e-4, bf16=dtype == torch.bfloat16, use_cpu=opts.device == "cpu",
                       report_to="none", save_strategy="no", logging_steps=1000, disable_tqdm=True,
                       dataloader_num_workers=0, seed=0)
    out = Path(opts.workdir) / kind
    trainer = _trainer(kind, model, tokenizer, args_common, examples, tokenized, opts.max_length, out)
    counting = _Counting(trainer.data_collator, tokenizer.pad_token_id)
    trainer.data_collator = counting
    timer = _step_timer()
    trainer.add_callback(timer)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    trainer.train()
    timed = slice(opts.warmup, opts.warmup + opts.steps)
    per_step = [tuple(map(sum, zip(*counting.batches[i:i + accum], strict=True)))
                for i in range(0, len(counting.batches), accum)]
    batches, times = per_step[timed], timer.times[timed]
    seconds = sum(times)
    totals = [sum(b[0] for b in batches), sum(b[1] for b in batches), sum(b[2] for b in batches),
              resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024]
    if processes > 1:  # every process's tokens, examples and peak memory (the steps are synchronous)
        import torch.distributed as dist

        summed = torch.tensor(totals, dtype=torch.float64)
        dist.all_reduce(summed)
        totals = summed.tolist()
    return {
        "trainer": kind, "steps": len(times), "median_step_s": statistics.median(times),
        "real_tokens_per_s": totals[0] / seconds,
        "loss_tokens_per_s": totals[1] / seconds,
        "examples_per_step": totals[2] / len(batches),
        "peak_rss_mb": totals[3],
        "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None,
    }


# ------------------------------------------------------------------------------------------- the driver
def _machine() -> str:
    import torch

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "no GPU"
    return f"{os.cpu_count()} × {cpu}, {gpu}, torch {torch.__version__}, Python {platform.python_version()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--model", choices=["smollm2", "smollm2-random", "llama-7b-random"], default="smollm2")
    parser.add_argument("--trainers", default=",".join(ALL), help=f"comma-separated, of {ALL + EXTRA}")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--max-length", type=int, default=384)
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    parser.add_argument("--workdir", default="/tmp/lingotune-train-bench")
    parser.add_argument("--json", help="also write the results here")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    if opts.worker:
        result = worker(opts.worker, opts)
        if int(os.environ.get("RANK", "0")) == 0:
            print("RESULT " + json.dumps(result), flush=True)
        return
    results = []
    for kind in opts.trainers.split(","):
        command = [sys.executable, __file__, "--worker", kind, *sys.argv[1:]]
        env = dict(os.environ)
        if kind == "lingotune-2cpu":
            from lingotune.train.cpu_ranks import training_command

            command, env = training_command(["--worker", kind, *sys.argv[1:]], 2, program=(__file__,))
        started = time.time()
        proc = subprocess.run(command, capture_output=True, text=True, cwd=REPO, env=env)
        line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
        if line is None:
            print(f"{kind}: failed\n{proc.stderr[-3000:]}", file=sys.stderr)
            continue
        results.append({**json.loads(line[7:]), "process_s": time.time() - started})
        print(f"{kind}: {results[-1]['real_tokens_per_s']:.0f} real tokens/s", file=sys.stderr, flush=True)
    base = next((r for r in results if r["trainer"] == "trl"), None)
    print(f"machine: {_machine()}; load average {os.getloadavg()[0]:.1f}")
    print(f"model {opts.model}, LoRA r16 all-linear, batch {opts.batch_size}, max_length {opts.max_length}, "
          f"{opts.warmup} warm-up + {opts.steps} timed steps\n")
    print("| trainer | real tokens/s | loss tokens/s | median step s | examples/step | peak RSS MB | peak GPU MB "
          "| real tokens/s ÷ TRL defaults |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        ratio = f"{r['real_tokens_per_s'] / base['real_tokens_per_s']:.2f}×" if base else "—"
        gpu = f"{r['peak_gpu_mb']:.0f}" if r["peak_gpu_mb"] is not None else "—"
        print(f"| {r['trainer']} | {r['real_tokens_per_s']:.0f} | {r['loss_tokens_per_s']:.0f} | "
              f"{r['median_step_s']:.2f} | {r['examples_per_step']:.1f} | {r['peak_rss_mb']:.0f} | {gpu} | {ratio} |")
    if opts.json:
        Path(opts.json).write_text(json.dumps({"machine": _machine(), "options": vars(opts), "results": results},
                                              indent=2))


if __name__ == "__main__":
    main()
