"""Generation throughput for evaluation: one prompt at a time, lingotune's batched generation (with and
without shared prompt beginnings encoded once; prompts encoded packed, the default on CPU, or padded to
the batch's longest; bf16 linear weights packed once for oneDNN, the default on CPU, or plain:
``batched-plain-weights``; greedy rows kept to the batch's end, as ``generate`` does:
``batched-unpruned``), and transformers' continuous batching (``generate_batch``), on the quickstart's own
evaluation prompts.

Same model (SmolLM2-135M-Instruct, the evaluation dtype lingotune picks), greedy decoding, the tasks'
own ``max_new_tokens``: MT-Bench-X ES first turns (48 new tokens) and XQuAD-es questions with their
contexts (24). Printed per method: items/s, seconds, and how many answers equal the batched ones
(greedy decoding is deterministic, but padding and batch shapes change float rounding, so a few
answers may differ after the first differing token).

    python benchmarks/eval_throughput.py [--items 48] [--batch-size 16] [--tasks fidelity_es,xquad_es] [--json out.json]
        [--methods unbatched,batched,batched-unshared,batched-padded,batched-plain-weights,batched-unpruned,continuous]
        [--model smollm2-135m-instruct|PATH]  (a trained run's model/: answers that end early)
        [--token-budget 12000]  (padded prompt tokens per batch, ``eval.token_budget``)

Last results, machine and date: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from unittest.mock import patch

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "benchmarks"))


def _conversations(items: int, tasks: list[str]):
    from lingotune.plan.load import load_recipe

    recipe = load_recipe(REPO / "recipes" / "quickstart.yaml")
    return [(spec.name, [item.conversation for item in spec.load_items(recipe.language_names)][:items],
             spec.max_new_tokens) for spec in recipe.eval.tasks if spec.name in tasks]


def _continuous(model, tokenizer, conversations, max_new_tokens: int) -> list[str]:
    from transformers import GenerationConfig

    from lingotune.models.chat import render

    inputs = [tokenizer(render(tokenizer, c, add_generation_prompt=True), add_special_tokens=False).input_ids
              for c in conversations]
    config = GenerationConfig(max_new_tokens=max_new_tokens, do_sample=False, eos_token_id=tokenizer.eos_token_id,
                              pad_token_id=tokenizer.pad_token_id)
    results = model.generate_batch(inputs=inputs, generation_config=config)
    ordered = list(results.values())
    return [tokenizer.decode(r.generated_tokens, skip_special_tokens=True).strip() for r in ordered]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=48, help="prompts per task")
    parser.add_argument("--methods", default="unbatched,batched,batched-unshared,continuous")
    parser.add_argument("--batch-size", type=int, default=16, help="prompts per batch of the batched methods")
    parser.add_argument("--tasks", default="fidelity_es,xquad_es", help="the quickstart's evaluation tasks to time")
    parser.add_argument("--json")
    parser.add_argument("--model", default="smollm2-135m-instruct", help="embedded name, hub id or local path")
    parser.add_argument("--token-budget", type=int, default=12000, help="padded prompt tokens per batch")
    opts = parser.parse_args()

    import torch
    from transformers import AutoModelForCausalLM

    from lingotune.models.generate import generate_batched
    from lingotune.models.loading import load_tokenizer, resolve_dtype
    from lingotune.models.sources import resolve_model

    resolved = resolve_model(opts.model)
    tokenizer = load_tokenizer(resolved)
    dtype = resolve_dtype("auto")
    model = AutoModelForCausalLM.from_pretrained(resolved.path, dtype=dtype, use_safetensors=True).eval()
    rows = []
    for name, conversations, max_new in _conversations(opts.items, opts.tasks.split(",")):
        answers: dict[str, list[str]] = {}
        for method in opts.methods.split(","):
            started = time.perf_counter()
            if method == "continuous":
                try:
                    out = _continuous(model, tokenizer, conversations, max_new)
                except Exception as error:  # noqa: BLE001 (a method that cannot run here is reported, not fatal)
                    rows.append({"task": name, "method": method, "error": f"{type(error).__name__}: {error}"})
                    print(f"{name} {method}: {rows[-1]['error']}", file=sys.stderr)
                    continue
            else:
                weights = (patch("lingotune.models.generate.packed_linears", lambda model: nullcontext(0))
                           if method == "batched-plain-weights" else nullcontext())
                with weights:
                    out = generate_batched(model, tokenizer, conversations, max_new_tokens=max_new,
                                           batch_size=1 if method == "unbatched" else opts.batch_size,
                                           share_prefixes=method in ("batched", "batched-padded",
                                                                     "batched-plain-weights", "batched-unpruned"),
                                           packed_prefill=method != "batched-padded",
                                           prune_ended=method != "batched-unpruned", token_budget=opts.token_budget)
            seconds = time.perf_counter() - started
            answers[method] = out
            rows.append({"task": name, "method": method, "items": len(out), "seconds": seconds,
                         "items_per_s": len(out) / seconds})
            print(f"{name} {method}: {len(out) / seconds:.2f} items/s", file=sys.stderr, flush=True)
        for row in rows:
            if row["task"] == name and "batched" in answers and row["method"] in answers:
                row["same_as_batched"] = sum(a == b for a, b in zip(answers[row["method"]], answers["batched"],
                                                                    strict=True))
    print(f"machine: {os.cpu_count()} CPUs, torch {torch.__version__}, dtype {dtype}; "
          f"load average {os.getloadavg()[0]:.1f}\n")
    print("| task | method | items | seconds | items/s | answers equal to batched |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(f"| {r['task']} | {r['method']} | — | — | — | failed: {r['error'][:80]} |")
        else:
            print(f"| {r['task']} | {r['method']} | {r['items']} | {r['seconds']:.1f} | {r['items_per_s']:.2f} | "
                  f"{r.get('same_as_batched', '—')}/{r['items']} |")
    if opts.json:
        Path(opts.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
