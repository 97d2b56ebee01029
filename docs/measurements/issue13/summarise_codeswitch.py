"""The code-switching recipe's comparisons (issue 13): each expert vs base, and balanced vs unbalanced, paired.

Usage: PYTHONPATH=. python docs/measurements/issue13/summarise_codeswitch.py runs/codeswitch_hinglish > out.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from lingotune.report.paired import Side, compare, task_verdicts


def fmt(m: dict | None) -> str:
    if not m:
        return "—"
    digits = 3 if abs(m["value"]) < 2 else 1
    return f"{m['value']:.{digits}f} [{m['low']:.{digits}f}, {m['high']:.{digits}f}]"


def delta(c) -> str:
    if c is None:
        return "—"
    if not c.paired:
        return f"{c.delta:+.{3 if abs(c.delta) < 2 else 1}f} (unpaired)"
    digits = 3 if abs(c.delta) < 2 and abs(c.high - c.low) < 2 else 1
    return f"{c.delta:+.{digits}f} [{c.low:+.{digits}f}, {c.high:+.{digits}f}]"


run = Path(sys.argv[1])
sums = {s: json.loads((run / "eval" / s / "summary.json").read_text())["tasks"]
        for s in ("base", "unbalanced", "balanced")}
info = json.loads((run / "run_info.json").read_text())
print(f"# {run.name}: wall {info.get('wall_time_s', 0) / 60:.1f} min, train tokens {info.get('train_tokens')}\n")
for a, b in (("base", "unbalanced"), ("base", "balanced"), ("unbalanced", "balanced")):
    print(f"## {b} vs {a}\n\n| task | metric | {a} | {b} | Δ = {b} − {a} [95 % CI] | verdict |")
    print("|---|---|---|---|---|---|")
    for task, entry in sums[b].items():
        other = sums[a].get(task)
        if other is None:
            continue
        cs = {m: compare(Side(run, a, other), Side(run, b, entry), task, m) for m in entry["metrics"]}
        verdicts = task_verdicts(cs)
        for m, c in cs.items():
            print(f"| {task} | {m} | {fmt(other['metrics'].get(m))} | {fmt(entry['metrics'].get(m))} | {delta(c)} "
                  f"| {verdicts[m]} |")
    print()
for task in ("rewrite_hi", "rewrite_es_unseen"):
    ref = sums["base"][task].get("reference_s_index")
    print(f"{task}: references' mean S-index {ref:.3f}" if ref is not None else "")
