"""Peak memory and wall time of lingotune's merges vs loading whole models and merging in memory.

Builds three sharded checkpoints of random weights (base, language expert, task expert) of a Llama
architecture with ~1.3 GB of fp32 weights each, in 4 safetensors shards, then runs, each in a fresh
subprocess:

- ``lingotune``: ``run_merge_spec`` as lingotune runs it (mergekit, out of core, with lingotune's
  memory-lean TIES kernels and pread loader, ``lingotune/merge/lean.py``);
- ``mergekit``: ``run_merge_spec(..., memory_lean=False)``: the same compiled config run by stock
  mergekit 0.1.5 (its kernels, its mmap loader), to show what lean.py changes;
- ``naive`` (layer swap and TIES): every shard of every input loaded into memory with
  ``safetensors.torch.load_file``, merged with plain torch ops, saved with ``save_file``.

How memory is counted (all from the merge's own process, ``/proc/self/status``):

- peak RSS: ``VmHWM``, the kernel's high-water mark of resident memory, anonymous + file-backed
  pages (mmapped shards count while mapped), including the interpreter and imports;
- imports: RSS after importing python, torch, safetensors (+ transformers, mergekit, lingotune for
  the lingotune/mergekit rows), measured in the same process just before the merge;
- merge-only: peak RSS − imports, what the merge itself adds;
- anon / file: ``RssAnon`` / ``RssFile`` sampled every 5 ms, at the sample with the largest sum.

The target (issue: "peak memory ≤ 2 × the largest shard for lingotune's merges") is checked on the
merge-only peak; the raw peak is printed next to it. Wall times depend on the machine's load: another
process on the same cores inflates them (the load average is printed), memory numbers are not affected.
Under such load torch's OpenMP threads wait for each other at every op, which costs lingotune's
chunked kernels (many small ops) more than mergekit's (few big ones); ``--threads 1`` shows the
compute cost without that effect.

    python benchmarks/merge_memory.py [--workdir /tmp/lingotune-bench] [--keep] [--methods ties ...]

Last results, machine and date: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

LAYERS, HIDDEN, INTERMEDIATE, VOCAB, SHARDS = 16, 1024, 4096, 32000, 4

CHILD = r"""
import json, sys, threading, time
peak = {"sum": 0, "anon": 0, "file": 0}
def status():
    out = {}
    for line in open("/proc/self/status"):
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
            out[key] = int(value.split()[0]) * 1024
    return out
def sample():
    while True:
        now = status()
        if now["RssAnon"] + now["RssFile"] > peak["sum"]:
            peak.update(sum=now["RssAnon"] + now["RssFile"], anon=now["RssAnon"], file=now["RssFile"])
        time.sleep(0.005)
kind, method, work, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[5])
import torch, safetensors.torch  # noqa
if threads:
    torch.set_num_threads(threads)
if kind != "naive":
    import mergekit.merge, lingotune.merge.run, lingotune.merge.lean  # noqa
time.sleep(0.05)
imports = status()
threading.Thread(target=sample, daemon=True).start()
started = time.time()
namespace = {"__name__": "merge_memory"}
exec(open(sys.argv[4]).read(), namespace)
namespace["run"](kind, method, work)
seconds = time.time() - started
final = status()
print(json.dumps({"kind": kind, "method": method, "seconds": seconds, "peak_rss": final["VmHWM"],
                  "peak_anon": peak["anon"], "peak_file": peak["file"], "import_rss": imports["VmRSS"],
                  "threads": torch.get_num_threads()}))
"""


def run(kind: str, method: str, work: str) -> None:
    """Executed inside the child: one merge."""
    from pathlib import Path

    work_dir = Path(work)
    out = work_dir / f"out-{kind}-{method}"
    if kind != "naive":
        from lingotune.merge.config import MergeSection
        from lingotune.merge.run import run_merge_spec

        if method == "layer_swap":
            raw = {"method": "layer_swap", "language_expert": str(work_dir / "lang"),
                   "task_expert": str(work_dir / "task"), "bottom": 3, "top": 2, "transition": 1}
        elif method == "revert":
            raw = {"method": "revert", "base_model": str(work_dir / "base"), "expert": str(work_dir / "lang"),
                   "revert": {"keep_fraction": 0.2}}
        else:
            raw = {"method": method, "base_model": str(work_dir / "base"), "density": 0.2, "seed": 0,
                   "models": [{"model": str(work_dir / "lang")}, {"model": str(work_dir / "task")}]}
        run_merge_spec(MergeSection.model_validate({"merge": raw}).merge, out, memory_lean=kind == "lingotune")
        shutil.rmtree(out, ignore_errors=True)
        return
    import torch
    from safetensors.torch import load_file, save_file

    def load(name: str) -> dict[str, torch.Tensor]:
        state: dict[str, torch.Tensor] = {}
        for shard in sorted((work_dir / name).glob("*.safetensors")):
            state.update(load_file(shard))
        return state

    if method == "layer_swap":
        lang, task = load("lang"), load("task")
        merged = {}
        for key, value in task.items():
            layer = int(key.split(".")[2]) if ".layers." in key else None
            w = 0.0 if layer is None else (1.0 if layer < 3 or layer >= LAYERS - 2 else 0.0)
            w = 0.5 if layer in (3, LAYERS - 3) else w
            merged[key] = lang[key] * w + value * (1 - w)
    else:
        base, experts = load("base"), [load("lang"), load("task")]
        merged = {}
        for key, b in base.items():
            deltas = torch.stack([e[key] - b for e in experts])
            k = max(1, int(0.2 * b.numel()))
            flat = deltas.abs().reshape(len(experts), -1)
            keep = torch.zeros_like(flat, dtype=torch.bool).scatter_(1, flat.topk(k, dim=1).indices, True)
            deltas = deltas * keep.reshape(deltas.shape)
            sign = torch.where(deltas.sum(0) >= 0, 1.0, -1.0)
            agree = deltas.sign() == sign
            merged[key] = b + (deltas * agree).sum(0) / agree.sum(0).clamp(min=1)
    out.mkdir(parents=True, exist_ok=True)
    save_file(merged, str(out / "model.safetensors"))
    shutil.rmtree(out, ignore_errors=True)


def build_checkpoints(work: Path) -> int:
    """Three sharded random checkpoints (experts = base + small noise); returns the largest shard size."""
    import torch
    from safetensors.torch import save_file
    from transformers import LlamaConfig

    config = LlamaConfig(vocab_size=VOCAB, hidden_size=HIDDEN, intermediate_size=INTERMEDIATE,
                         num_hidden_layers=LAYERS, num_attention_heads=16, num_key_value_heads=16,
                         tie_word_embeddings=False)
    config.architectures = ["LlamaForCausalLM"]
    shapes = {"model.embed_tokens.weight": (VOCAB, HIDDEN)}
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
            shapes[f"{p}self_attn.{name}.weight"] = (HIDDEN, HIDDEN)
        shapes[f"{p}mlp.gate_proj.weight"] = shapes[f"{p}mlp.up_proj.weight"] = (INTERMEDIATE, HIDDEN)
        shapes[f"{p}mlp.down_proj.weight"] = (HIDDEN, INTERMEDIATE)
        shapes[f"{p}input_layernorm.weight"] = shapes[f"{p}post_attention_layernorm.weight"] = (HIDDEN,)
    shapes["model.norm.weight"] = (HIDDEN,)
    shapes["lm_head.weight"] = (VOCAB, HIDDEN)
    names = list(shapes)
    per_shard = -(-len(names) // SHARDS)
    for model, seed in (("base", 0), ("lang", 1), ("task", 2)):
        folder = work / model
        folder.mkdir(parents=True, exist_ok=True)
        config.save_pretrained(folder)
        weight_map = {}
        for s in range(SHARDS):
            shard = f"model-{s + 1:05d}-of-{SHARDS:05d}.safetensors"
            tensors = {}
            for name in names[s * per_shard : (s + 1) * per_shard]:
                g = torch.Generator().manual_seed(hash((0, name)) % 2**31)
                tensors[name] = torch.randn(shapes[name], generator=g) * 0.02
                if seed:
                    g.manual_seed(hash((seed, name)) % 2**31)
                    tensors[name] += torch.randn(shapes[name], generator=g) * 0.002
                weight_map[name] = shard
            save_file(tensors, str(folder / shard), metadata={"format": "pt"})
            del tensors
        index = {"metadata": {}, "weight_map": weight_map}
        (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    return max(f.stat().st_size for f in work.rglob("*.safetensors"))


def measure(kind: str, method: str, work: Path, threads: int = 0) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, kind, method, str(work), __file__, str(threads)],
                          capture_output=True, text=True, check=False)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


METHODS = ("layer_swap", "ties", "dare_ties", "revert")
NAIVE = ("layer_swap", "ties")  # the naive baselines written here


def machine() -> str:
    import os
    import platform

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    return f"{os.cpu_count()} CPUs ({cpu}), {platform.system()} {platform.release()}, " \
        f"Python {platform.python_version()}"


def main() -> None:
    import datetime
    import os

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/lingotune-bench"))
    parser.add_argument("--keep", action="store_true", help="keep the checkpoints for a rerun")
    parser.add_argument("--methods", nargs="+", choices=METHODS, default=list(METHODS))
    parser.add_argument("--no-stock", action="store_true", help="skip the stock-mergekit rows (slowest)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads in each merge (0: torch's default)")
    args = parser.parse_args()
    work = args.workdir
    started = time.time()
    if not (work / "task" / "model.safetensors.index.json").exists():
        shutil.rmtree(work, ignore_errors=True)
        build_checkpoints(work)
    shard = max(f.stat().st_size for f in (work / "base").glob("*.safetensors"))
    total = sum(f.stat().st_size for f in (work / "base").glob("*.safetensors"))
    mb = 1e6
    print(f"{datetime.date.today()}, {machine()}; load average {os.getloadavg()[0]:.1f} at start")
    print(f"checkpoints: 3 x {total / 1e9:.2f} GB fp32 in {SHARDS} shards, largest shard {shard / mb:.0f} MB, "
          f"largest tensor {VOCAB * HIDDEN * 4 / mb:.0f} MB (built in {time.time() - started:.0f}s)")
    print("peak RSS = VmHWM (anon + file pages, imports included); merge-only = peak RSS - RSS after imports; "
          "anon/file at the largest 5 ms sample")
    print(f"{'':9s} {'method':10s} {'wall':>7s} {'peak RSS':>9s} {'x shard':>7s} {'imports':>7s} "
          f"{'merge-only':>10s} {'x shard':>7s} {'anon':>6s} {'file':>6s}")
    results = {}
    for method in args.methods:
        kinds = ["lingotune"] + ([] if args.no_stock else ["mergekit"]) + (["naive"] if method in NAIVE else [])
        for kind in kinds:
            r = measure(kind, method, work, args.threads)
            results[(kind, method)] = r
            only = r["peak_rss"] - r["import_rss"]
            print(f"{kind:9s} {method:10s} {r['seconds']:6.1f}s {r['peak_rss'] / mb:6.0f} MB "
                  f"{r['peak_rss'] / shard:6.2f}x "
                  f"{r['import_rss'] / mb:4.0f} MB {only / mb:7.0f} MB {only / shard:6.2f}x "
                  f"{r['peak_anon'] / mb:3.0f} MB {r['peak_file'] / mb:3.0f} MB", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end; torch threads {results[next(iter(results))]['threads']}")
    for method in args.methods:
        ling = results[("lingotune", method)]
        only = ling["peak_rss"] - ling["import_rss"]
        print(f"{method}: lingotune merge-only peak {only / mb:.0f} MB = {only / shard:.2f} x largest shard "
              f"(target <= 2x: {'met' if only <= 2 * shard else 'NOT met'}); "
              f"raw peak RSS {ling['peak_rss'] / mb:.0f} MB = {ling['peak_rss'] / shard:.2f} x "
              f"({'<=' if ling['peak_rss'] <= 2 * shard else '>'} 2x, imports included)")
        for other in ("mergekit", "naive"):
            if (other, method) in results:
                r = results[(other, method)]
                print(f"  {other} / lingotune: peak RSS {r['peak_rss'] / ling['peak_rss']:.1f}x, merge-only "
                      f"{(r['peak_rss'] - r['import_rss']) / only:.1f}x, wall {r['seconds'] / ling['seconds']:.2f}x")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
