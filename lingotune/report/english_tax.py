"""The "English tax" of natural-language → code (issue 14): how much less often a model's program passes
when the problem is written in another language than in English, on the same problems.

Paired item by item: a code task's items are ``TASK#sample`` and HumanEval-XL's task ids are the same in
every language, so for each stage Δ = pass@1(English) − pass@1(language) is bootstrapped over the items
both tasks answered (positive: the model pays a tax). Tasks whose ids do not match an English task's (e.g.
mHumanEval, numbered as HumanEval) get no row rather than an unpaired number.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lingotune.core.errors import LingotuneError
from lingotune.eval.bootstrap import paired_bootstrap_delta
from lingotune.report.document import Block, Heading, Para, Table
from lingotune.report.run_files import load_items, load_stage_summary

RESAMPLES = 1000


def pass_at_1_by_item(run_dir: Path, stage: str, task: str) -> dict[str, float]:
    """pass@1 (0 or 100 per sample) of each item of a code task's evaluation file, by item id."""
    values = {}
    for record in load_items(run_dir, stage, task):
        value = (record.get("scores") or {}).get("pass@1")
        if value is not None:
            values[str(record["id"])] = float(value)
    return values


def english_tax(run_dir: Path, stages: list[str]) -> list[dict[str, Any]]:
    """One row per (stage, non-English code task with an English twin): both pass@1 and the paired Δ."""
    rows = []
    for stage in stages:
        try:
            tasks = load_stage_summary(run_dir, stage).get("tasks", {})
        except LingotuneError:  # an unreadable summary: the report's stage table says so already
            continue
        code = {name: entry for name, entry in tasks.items() if entry.get("kind") == "code"}
        english = {name: pass_at_1_by_item(run_dir, stage, name) for name, entry in code.items()
                   if entry.get("language") == "en"}  # read once per stage, not once per other language
        for name, entry in code.items():
            if entry.get("language") == "en":
                continue
            target = pass_at_1_by_item(run_dir, stage, name)
            for twin, source in english.items():
                shared = sorted(set(source) & set(target))
                if len(shared) < 2 or len(shared) < len(target):
                    continue
                delta, low, high = paired_bootstrap_delta([target[i] for i in shared], [source[i] for i in shared],
                                                          n_resamples=RESAMPLES)
                rows.append({"stage": stage, "task": name, "language": entry.get("language"), "english": twin,
                             "n": len(shared), "pass1_en": sum(source[i] for i in shared) / len(shared),
                             "pass1": sum(target[i] for i in shared) / len(shared),
                             "tax": delta, "low": low, "high": high})
                break
    return rows


def english_tax_blocks(run_dir: Path, stages: list[str]) -> list[Block]:
    rows = english_tax(Path(run_dir), stages)
    if not rows:
        return []
    table = Table(["Stage", "Task", "Language", "pass@1 English", "pass@1 language", "English tax Δ [95 % CI]", "n"],
                  [[r["stage"], r["task"], r["language"], f"{r['pass1_en']:.1f}", f"{r['pass1']:.1f}",
                    f"{r['tax']:+.1f} [{r['low']:+.1f}, {r['high']:+.1f}]", str(r["n"])] for r in rows])
    return [Heading("English tax (natural language → code)"),
            Para("Δ = pass@1 with the English problem − pass@1 with the same problem in the language, paired over "
                 "the same problems and samples (bootstrap 95 % CI); positive: the model solves less when asked in "
                 "the language."), table]
