"""``translation_report.md``: what was kept, what was dropped and why, with examples of each reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lingotune.data.translate.filters import REASONS

EXAMPLES_PER_REASON = 3


def _short(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + " …"


def write_report(path: Path, summary: dict[str, Any], examples: dict[str, list[dict[str, str]]]) -> None:
    lines = [
        f"# Translation report: {Path(summary['source_file']).name} → {summary['target_language']}",
        "",
        f"- source: `{summary['source_file']}` ({summary['source_language']}), {summary['records']} records, "
        f"{summary['fields']} fields, {summary['units']} translation units",
        f"- translator: {summary['backend'].get('kind')} `{summary['backend'].get('model')}`",
        f"- kept: **{summary['kept']}** → `{summary['out']}`",
        f"- rejected: **{summary['rejected']}** → `{summary['rejected_file']}` (kept there with their reasons)",
        f"- requests sent: {summary['requests']}, answered from the cache: {summary['cache_hits']}, "
        f"failed: {summary['failures']}; {summary['seconds']} s",
        "",
        "## Rejected records by reason",
        "",
    ]
    if not summary["reasons"]:
        lines.append("No record was rejected.")
    else:
        lines += ["A record can have several reasons.", "", "| reason | records | meaning |", "|---|---|---|"]
        lines += [f"| {reason} | {count} | {REASONS.get(reason, '')} |" for reason, count in summary["reasons"].items()]
    for reason in summary["reasons"]:
        lines += ["", f"### {reason}", ""]
        for example in examples.get(reason, [])[:EXAMPLES_PER_REASON]:
            lines += [f"- `{example['field']}`", f"  - source: {_short(example['source'])}",
                      f"  - output: {_short(example['output'])}"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
