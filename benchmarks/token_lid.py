"""Throughput of the token language identifier (``lingotune.language.token_lid``) against lingua word by word.

The issue asks for ≥ 100k tokens/s. Input: the SentiMix Hinglish dev tweets and the L3Cube-HingLID sentences
(``/work/shared/data/SOURCES.md`` §5), repeated until there are ≥ 300k tokens, tagged in batches of
``--batch`` utterances. Cold: a fresh tagger (model loaded, empty per-type cache), so every word type is
featurised once on its first occurrence; unique: the same on one copy of the corpora only (every type is new
there, the worst case); warm: the same tagger again, every type cached. Baseline: lingua (the detector of
:mod:`lingotune.language.detect`, all Latin-script languages, preloaded models) asked about each token of a
sample of HingLID sentences; its build time is printed apart. Its accuracy on that sample (English → en,
anything else → hi) is printed beside the tagger's, to show why lingua is no word-level fallback.

    python benchmarks/token_lid.py [--tokens 300000] [--batch 256] [--lingua-tokens 3000] [--json out.json]
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
DATA = REPO.parent / "shared" / "data"


def _rate(tagger, utterances: list[list[str]], batch: int, **options: object) -> tuple[int, float]:
    tokens = sum(len(u) for u in utterances)
    started = time.perf_counter()
    for start in range(0, len(utterances), batch):
        tagger.tag_many(utterances[start:start + batch], **options)
    return tokens, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tokens", type=int, default=300_000, help="at least this many tokens per pass")
    parser.add_argument("--batch", type=int, default=256, help="utterances per tag_many call")
    parser.add_argument("--lingua-tokens", type=int, default=3000, help="tokens of the lingua baseline sample")
    parser.add_argument("--json")
    opts = parser.parse_args()

    from lingotune.language.conll import read_conll
    from lingotune.language.token_lid import load_tagger

    sentimix = read_conll(DATA / "sentimix2020" / "Hinglish_dev_3k_split_conll.txt", "sentimix_hinglish")
    hinglid = read_conll(DATA / "l3cube_hinglid" / "validation.first1000.txt", "l3cube")
    corpus = [u.tokens for u in sentimix] + [u.tokens for u in hinglid]
    once = sum(len(u) for u in corpus)
    repeated = corpus * -(-opts.tokens // once)
    rows = []

    started = time.perf_counter()
    tagger = load_tagger("hinglish")
    load_seconds = time.perf_counter() - started
    for name, data, fresh in (("unique (one copy, cold)", corpus, True), ("cold", repeated, True),
                              ("warm", repeated, False)):
        if fresh:
            tagger.clear_cache()
        tokens, seconds = _rate(tagger, data, opts.batch)
        rows.append({"method": f"TokenTagger {name}", "tokens": tokens, "seconds": seconds,
                     "tokens_per_s": tokens / seconds})
        print(f"{rows[-1]['method']}: {tokens / seconds:,.0f} tokens/s", file=sys.stderr, flush=True)
    tokens, seconds = _rate(tagger, repeated, opts.batch, languages_only=True)
    rows.append({"method": "TokenTagger warm, languages_only", "tokens": tokens, "seconds": seconds,
                 "tokens_per_s": tokens / seconds})

    chosen = []
    while sum(len(u.tokens) for u in chosen) < opts.lingua_tokens and len(chosen) < len(hinglid):
        chosen.append(hinglid[len(chosen)])
    sample = [t for u in chosen for t in u.tokens]
    gold = [g for u in chosen for g in u.tags]
    tagged = [t for row in tagger.tag_many([u.tokens for u in chosen], languages_only=True) for t in row]
    rows[-1]["hinglid_sample_accuracy"] = sum(a == b for a, b in zip(tagged, gold, strict=True)) / len(gold)
    from lingua import Language, LanguageDetectorBuilder

    started = time.perf_counter()
    detector = LanguageDetectorBuilder.from_all_languages_with_latin_script().with_preloaded_language_models().build()
    build_seconds = time.perf_counter() - started
    started = time.perf_counter()
    found = [detector.detect_language_of(token) for token in sample]
    seconds = time.perf_counter() - started
    lingua_tags = ["en" if f == Language.ENGLISH else "hi" for f in found]
    rows.append({"method": "lingua word by word (Latin-script languages)", "tokens": len(sample), "seconds": seconds,
                 "tokens_per_s": len(sample) / seconds, "build_seconds": build_seconds,
                 "hinglid_sample_accuracy": sum(a == b for a, b in zip(lingua_tags, gold, strict=True)) / len(gold)})
    warm = next(r for r in rows if r["method"] == "TokenTagger warm")["tokens_per_s"]
    cold = next(r for r in rows if r["method"] == "TokenTagger cold")["tokens_per_s"]

    import numpy

    machine = (f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, numpy "
               f"{numpy.__version__}; load average {os.getloadavg()[0]:.1f}; model load {load_seconds:.2f} s; "
               f"batch {opts.batch} utterances; corpus {once:,} tokens × {len(repeated) // len(corpus)}")
    print(f"machine: {machine}\n")
    print("| method | tokens | seconds | tokens/s | HingLID sample accuracy |")
    print("|---|---|---|---|---|")
    for r in rows:
        acc = f"{100 * r['hinglid_sample_accuracy']:.1f} %" if "hinglid_sample_accuracy" in r else "—"
        print(f"| {r['method']} | {r['tokens']:,} | {r['seconds']:.2f} | {r['tokens_per_s']:,.0f} | {acc} |")
    lingua = rows[-1]
    print(f"\nlingua: build {lingua['build_seconds']:.1f} s; tagger/lingua tokens/s: "
          f"cold {cold / lingua['tokens_per_s']:,.0f}×, warm {warm / lingua['tokens_per_s']:,.0f}× "
          f"(accuracies on the first {len(sample):,} HingLID tokens)")
    if opts.json:
        Path(opts.json).write_text(json.dumps({"machine": machine, "rows": rows,
                                               "ratio_cold": cold / lingua["tokens_per_s"],
                                               "ratio_warm": warm / lingua["tokens_per_s"]}, indent=2) + "\n")


if __name__ == "__main__":
    main()
