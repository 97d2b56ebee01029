"""Peak memory and wall time of lingotune's merges vs loading whole models and merging in memory.

Builds three sharded checkpoints of random weights (base, language expert, task expert) of a Llama
architecture with ~1.3 GB of fp32 weights each, in 4 safetensors shards, then runs, each in a fresh
subprocess:

- ``lingotune layer_swap`` and ``lingotune ties``: ``run_merge_spec`` (mergekit, out of core);
- ``naive layer_swap`` and ``naive ties``: every shard of every input loaded into memory with
  ``safetensors.torch.load_file``, merged with plain torch ops, saved with ``save_file``.

Peak RSS is the child's ``VmHWM`` (includes file pages mapped by safetensors); peak anonymous
memory is sampled from ``/proc/self/status`` every 5 ms. Import overhead (python, torch,
transformers, mergekit) is measured in the same child before the merge and reported apart.

    python benchmarks/merge_memory.py [--workdir /tmp/lingotune-bench] [--keep]
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
import json, sys, threading, time, resource
peak = {"anon": 0}
def status():
    out = {}
    for line in open("/proc/self/status"):
        key, _, value = line.partition(":")
        if key in ("VmHWM", "VmRSS", "RssAnon"):
            out[key] = int(value.split()[0]) * 1024
    return out
def sample():
    while True:
        peak["anon"] = max(peak["anon"], status()["RssAnon"])
        time.sleep(0.005)
threading.Thread(target=sample, daemon=True).start()
kind, method, work = sys.argv[1], sys.argv[2], sys.argv[3]
import torch, safetensors.torch  # noqa
if kind == "lingotune":
    import mergekit.merge, lingotune.merge.run  # noqa
time.sleep(0.05)
imports = status()
started = time.time()
namespace = {"__name__": "merge_memory"}
exec(open(sys.argv[4]).read(), namespace)
namespace["run"](kind, method, work)
seconds = time.time() - started
final = status()
print(json.dumps({"kind": kind, "method": method, "seconds": seconds, "peak_rss": final["VmHWM"],
                  "peak_anon": peak["anon"], "import_rss": imports["VmRSS"], "import_anon": imports["RssAnon"]}))
"""


def run(kind: str, method: str, work: str) -> None:
    """Executed inside the child: one merge."""
    from pathlib import Path

    work_dir = Path(work)
    out = work_dir / f"out-{kind}-{method}"
    if kind == "lingotune":
        from lingotune.merge.config import MergeSection
        from lingotune.merge.run import run_merge_spec

        if method == "layer_swap":
            raw = {"method": "layer_swap", "language_expert": str(work_dir / "lang"),
                   "task_expert": str(work_dir / "task"), "bottom": 3, "top": 2, "transition": 1}
        else:
            raw = {"method": "ties", "base_model": str(work_dir / "base"), "density": 0.2,
                   "models": [{"model": str(work_dir / "lang")}, {"model": str(work_dir / "task")}]}
        run_merge_spec(MergeSection.model_validate({"merge": raw}).merge, out)
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


def measure(kind: str, method: str, work: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, kind, method, str(work), __file__],
                          capture_output=True, text=True, check=False)
    if proc.returncode:
        raise RuntimeError(proc.stderr[-3000:])
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/lingotune-bench"))
    parser.add_argument("--keep", action="store_true", help="keep the checkpoints for a rerun")
    args = parser.parse_args()
    work = args.workdir
    started = time.time()
    if not (work / "task" / "model.safetensors.index.json").exists():
        shutil.rmtree(work, ignore_errors=True)
        build_checkpoints(work)
    shard = max(f.stat().st_size for f in (work / "base").glob("*.safetensors"))
    total = sum(f.stat().st_size for f in (work / "base").glob("*.safetensors"))
    print(f"checkpoints: 3 x {total / 1e9:.2f} GB in {SHARDS} shards, largest shard {shard / 1e6:.0f} MB "
          f"(built in {time.time() - started:.0f}s)")
    gb = 1e6
    results = {}
    for method in ("layer_swap", "ties"):
        for kind in ("lingotune", "naive"):
            r = measure(kind, method, work)
            results[(kind, method)] = r
            print(f"{kind:9s} {method:10s} wall {r['seconds']:6.1f}s  peak RSS {r['peak_rss'] / gb:7.0f} MB "
                  f"({r['peak_rss'] / shard:.2f} x shard)  peak anon {r['peak_anon'] / gb:7.0f} MB  "
                  f"imports {r['import_rss'] / gb:.0f} MB  merge-only {(r['peak_rss'] - r['import_rss']) / gb:.0f} MB "
                  f"({(r['peak_rss'] - r['import_rss']) / shard:.2f} x shard)")
    for method in ("layer_swap", "ties"):
        ling, naive = results[("lingotune", method)], results[("naive", method)]
        print(f"{method}: naive / lingotune peak RSS = {naive['peak_rss'] / ling['peak_rss']:.1f}x, "
              f"wall lingotune / naive = {ling['seconds'] / naive['seconds']:.2f}x")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
