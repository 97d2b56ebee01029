"""pass@k per code task and the English tax, per stage of a run folder (issue 14).

Usage: PYTHONPATH=. python docs/measurements/issue14/summarise_code.py RUN_DIR [STAGE ...] > out.md
"""

from __future__ import annotations

import sys
from pathlib import Path

from lingotune.eval.bootstrap import paired_bootstrap_delta
from lingotune.report.english_tax import english_tax, pass_at_1_by_item
from lingotune.report.run_files import load_stage_summary

run = Path(sys.argv[1])
stages = sys.argv[2:] or sorted(p.name for p in (run / "eval").iterdir() if (p / "summary.json").is_file())
for stage in stages:
    tasks = load_stage_summary(run, stage)["tasks"]
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


def per_item(stage: str, task: str) -> dict[str, float]:
    return pass_at_1_by_item(run, stage, task)


def ci(delta: float, low: float, high: float) -> str:
    return f"{delta:+.1f} [{low:+.1f}, {high:+.1f}]"


if "base" in stages and len(stages) > 1:
    tasks = list(load_stage_summary(run, "base")["tasks"])
    print("## Paired against the base model (pass@1, same problems and samples)\n")
    print("| stage | " + " | ".join(tasks) + " |\n|---|" + "---|" * len(tasks))
    for stage in [s for s in stages if s != "base"]:
        cells = []
        for task in tasks:
            before, after = per_item("base", task), per_item(stage, task)
            shared = sorted(set(before) & set(after))
            cells.append(ci(*paired_bootstrap_delta([before[i] for i in shared], [after[i] for i in shared])))
        print(f"| {stage} | " + " | ".join(cells) + " |")
    print("\n## Change in the English tax against the base model\n")
    print("Per problem: (English − language) after minus (English − language) before, bootstrapped over problems;"
          " negative: the stage pays less tax than the base.\n")
    pairs = [(t, "humaneval_xl_en") for t in tasks if t.startswith("humaneval_xl_") and t != "humaneval_xl_en"
             and not t.endswith("pass10")]
    print("| stage | " + " | ".join(t for t, _ in pairs) + " |\n|---|" + "---|" * len(pairs))
    for stage in [s for s in stages if s != "base"]:
        cells = []
        for task, english in pairs:
            arms = [per_item(s, t) for s in ("base", stage) for t in (english, task)]
            shared = sorted(set.intersection(*(set(a) for a in arms)))
            gap_before = [arms[0][i] - arms[1][i] for i in shared]
            gap_after = [arms[2][i] - arms[3][i] for i in shared]
            cells.append(ci(*paired_bootstrap_delta(gap_before, gap_after)))
        print(f"| {stage} | " + " | ".join(cells) + " |")
