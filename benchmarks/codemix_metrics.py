"""Throughput of the code-mixing metrics: lingotune's vectorised ``corpus_metrics`` against a plain
per-utterance Python loop (``utterance_metrics`` on each utterance), on real tags.

Corpus: the 3,000 SentiMix 2020 Hinglish dev tweets (gold word-level tags mapped to en/hi/other),
repeated until it has at least ``--min-tokens`` tokens (default 2M). Both methods compute every
per-utterance metric (S-index, CMI, Cu, M-index, LE, I-index, SPF, burstiness, memory, span
entropy); the vectorised one also the corpus summary (Cc, means). Printed: tokens/s of each (best of
``--repeats``), the vectorised time split into encoding (tags → int ids, the only Python-level pass)
and the numpy metrics, the speed-up, and that both give the same values.

    OMP_NUM_THREADS=1 python benchmarks/codemix_metrics.py [--min-tokens 2000000] [--repeats 3] [--json out.json]

Last results, machine and date: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
SENTIMIX = REPO.parent / "shared" / "data" / "sentimix2020" / "Hinglish_dev_3k_split_conll.txt"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def _best(function, repeats: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - started)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--min-tokens", type=int, default=2_000_000)
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per method; the best is reported")
    parser.add_argument("--json")
    opts = parser.parse_args()

    import numpy as np

    from lingotune.language.codemix_metrics import METRICS, corpus_metrics, encode_tags, utterance_metrics
    from lingotune.language.conll import read_conll

    base = [u.tags for u in read_conll(SENTIMIX, "sentimix_hinglish")]
    base_tokens = sum(map(len, base))
    corpus = base * -(-opts.min_tokens // base_tokens)
    tokens = sum(map(len, corpus))
    print(f"corpus: SentiMix Hinglish dev ×{len(corpus) // len(base)} = {len(corpus)} utterances, {tokens} tokens",
          file=sys.stderr, flush=True)

    vector_s, result = _best(lambda: corpus_metrics(corpus), opts.repeats)
    encode_s, encoded = _best(lambda: encode_tags(corpus), opts.repeats)
    kernels_s, _ = _best(lambda: corpus_metrics(encoded), opts.repeats)
    print(f"vectorised: {tokens / vector_s / 1e6:.2f} M tokens/s", file=sys.stderr, flush=True)
    loop_s, reference = _best(lambda: [utterance_metrics(tags) for tags in corpus], opts.repeats)
    print(f"python loop: {tokens / loop_s / 1e6:.2f} M tokens/s", file=sys.stderr, flush=True)

    same = all(np.allclose(result.per_utterance[name], [m[name] for m in reference], rtol=1e-10, atol=1e-12,
                           equal_nan=True) for name in METRICS)
    rows = [
        {"method": "corpus_metrics (vectorised, from tag lists)", "seconds": vector_s},
        {"method": "  of which encode_tags (tags → ids)", "seconds": encode_s},
        {"method": "  of which numpy metrics (from ids)", "seconds": kernels_s},
        {"method": "utterance_metrics per utterance (Python loop)", "seconds": loop_s},
    ]
    for row in rows:
        row["tokens_per_s"] = tokens / row["seconds"]
    print(f"machine: {_cpu_model()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, numpy "
          f"{np.__version__}, OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}; "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"corpus: {len(corpus)} utterances, {tokens} tokens; best of {opts.repeats}\n")
    print("| method | seconds | tokens/s |")
    print("|---|---|---|")
    for row in rows:
        print(f"| {row['method']} | {row['seconds']:.3f} | {row['tokens_per_s'] / 1e6:.2f} M |")
    ratio = loop_s / vector_s
    print(f"\nspeed-up of corpus_metrics over the Python loop: {ratio:.1f}× "
          f"(numpy metrics alone: {loop_s / kernels_s:.1f}×); same values: {same}")
    if opts.json:
        Path(opts.json).write_text(json.dumps({"utterances": len(corpus), "tokens": tokens, "rows": rows,
                                               "speedup": ratio, "same_values": same,
                                               "cpus": os.cpu_count(), "cpu": _cpu_model()}, indent=2))


if __name__ == "__main__":
    main()
