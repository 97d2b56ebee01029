"""pass@k per code task and the English tax, per stage of a run folder (issue 14).

Usage: PYTHONPATH=. python docs/measurements/issue14/summarise_code.py RUN_DIR [STAGE ...] > out.md
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from lingotune.report.english_tax import english_tax

run = Path(sys.argv[1])
stages = sys.argv[2:] or sorted(p.name for p in (run / "eval").iterdir() if (p / "summary.json").is_file())
for stage in stages:
    tasks = json.loads((run / "eval" / stage / "summary.json").read_text())["tasks"]
    print(f"## {stage}\n\n| task | language | problems × samples | pass@1 | pass@10 | solved problems | statuses |")
    print("|---|---|---|---|---|---|---|")
    for name, entry in tasks.items():
        cells = []
        for k in ("pass@1", "pass@10"):
            m = entry["metrics"].get(k)
            cells.append(f"{m['value']:.1f} [{m['low']:.1f}, {m['high']:.1f}]" if m else "—")
        print(f"| {name} | {entry['language']} | {entry['problems']} × {entry['samples_per_problem']} | {cells[0]} | "
              f"{cells[1]} | {entry['solved_problems']} | {entry['statuses']} |")
    print(f"\nisolation: {next(iter(tasks.values()))['isolation']}\n")
    rows = english_tax(run, [stage])
    if rows:
        print("| task | pass@1 English | pass@1 language | English tax Δ [95 % CI] | n |\n|---|---|---|---|---|")
        for r in rows:
            print(f"| {r['task']} | {r['pass1_en']:.1f} | {r['pass1']:.1f} | {r['tax']:+.1f} [{r['low']:+.1f}, "
                  f"{r['high']:+.1f}] | {r['n']} |")
        print()
