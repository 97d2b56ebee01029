"""Per run folder: every task and metric, each stage vs base, paired Δ and the guarded verdict (issue 10 tables).

Usage: PYTHONPATH=. python docs/measurements/issue10/summarise_vs_base.py RUN_DIR... > out.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from lingotune.report.paired import Side, compare, task_verdicts
from lingotune.report.run_files import stage_names


def fmt(m: dict | None) -> str:
    return f"{m['value']:.1f} [{m['low']:.1f}, {m['high']:.1f}]" if m else "—"


def delta(c) -> str:
    if c is None:
        return "—"
    return f"{c.delta:+.1f} [{c.low:+.1f}, {c.high:+.1f}]" if c.paired else f"{c.delta:+.1f} (unpaired)"


for run in map(Path, sys.argv[1:]):
    stages = stage_names(run)
    sums = {s: json.loads((run / "eval" / s / "summary.json").read_text())["tasks"] for s in stages}
    info = json.loads((run / "run_info.json").read_text())
    wall = info.get("wall_time_s", 0) / 60
    print(f"## {run.name} (wall {wall:.1f} min, train tokens {info.get('train_tokens')})\n")
    for stage in [s for s in stages if s != "base"]:
        print(f"### {stage} vs base\n\n| task | metric | base | {stage} | Δ [95 % CI] | verdict |")
        print("|---|---|---|---|---|---|")
        for task, entry in sums[stage].items():
            b = sums["base"].get(task)
            if b is None:
                continue
            cs = {m: compare(Side(run, "base", b), Side(run, stage, entry), task, m) for m in entry["metrics"]}
            vs = task_verdicts(cs)
            for m, c in cs.items():
                print(f"| {task} | {m} | {fmt(b['metrics'].get(m))} | {fmt(entry['metrics'].get(m))} | {delta(c)} "
                      f"| {vs[m]} |")
        print()
