"""A/B: the packed prefill's cache with room reserved for the new tokens (``models/reserved_cache.py``)
against transformers' ``DynamicCache`` growing by concatenation, on the quickstart's MT-Bench-X ES and
XQuAD-es evaluation prompts (all 80 and 100), bf16, alternated.

    python docs/measurements/issue11/reserved_cache_ab_probe.py [ROUNDS] [--json OUT]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "benchmarks"))


def _growing_cache(config, buffers, length):
    from transformers import DynamicCache

    cache = DynamicCache(config=config)
    for index, (keys, values) in enumerate(buffers):
        cache.update(keys[..., :length, :].contiguous(), values[..., :length, :].contiguous(), index)
    return cache


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("rounds", type=int, nargs="?", default=2)
    parser.add_argument("--json")
    opts = parser.parse_args()

    from eval_throughput import _conversations
    from transformers import AutoModelForCausalLM

    from lingotune.models import reserved_cache
    from lingotune.models.generate import generate_batched
    from lingotune.models.loading import load_tokenizer, resolve_dtype
    from lingotune.models.sources import resolve_model

    resolved = resolve_model("smollm2-135m-instruct")
    tokenizer = load_tokenizer(resolved)
    model = AutoModelForCausalLM.from_pretrained(resolved.path, dtype=resolve_dtype("auto"),
                                                 use_safetensors=True).eval()
    reserved = reserved_cache.reserved_cache
    seconds: dict[str, dict[str, list[float]]] = {}
    for round_ in range(opts.rounds):
        for kind in (("reserved", "growing") if round_ % 2 == 0 else ("growing", "reserved")):
            reserved_cache.reserved_cache = reserved if kind == "reserved" else _growing_cache
            for name, conversations, max_new in _conversations(100):
                started = time.perf_counter()
                generate_batched(model, tokenizer, conversations, max_new_tokens=max_new, batch_size=16)
                took = round(time.perf_counter() - started, 1)
                seconds.setdefault(name, {}).setdefault(kind, []).append(took)
                print(f"{name} {kind}: {took} s", file=sys.stderr, flush=True)
    reserved_cache.reserved_cache = reserved
    print(json.dumps(seconds, indent=1))
    if opts.json:
        Path(opts.json).write_text(json.dumps(seconds, indent=1) + "\n")


if __name__ == "__main__":
    main()
