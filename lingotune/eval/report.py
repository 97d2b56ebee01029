"""The run report: what a run did to the model, measured, in ``report.md`` and ``report.html``.

The report is read by someone deciding whether an adaptation worked, so it leads with the before →
after table and a verdict that only says "improved" or "worse" when the confidence intervals do not
overlap. It reads only the run directory (``run_info.json``, ``metrics.jsonl``, ``eval/<stage>/``,
``recipe.yaml``) and tolerates any of those being absent: a crashed or half-finished run is exactly
when a report is most wanted, so missing pieces become notes in the report instead of exceptions.

The content is first built as a small list of blocks (headings, tables, images, code) and then rendered
twice, so the Markdown and the HTML cannot drift apart.
"""

from __future__ import annotations

import base64
import html
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lingotune.errors import DataError
from lingotune.eval.plots import LossPoint, Series, loss_curve_png, metric_bars_png

DASH = "—"
SAMPLES_PER_TASK = 5
PROMPT_CHARS = 300
OUTPUT_CHARS = 500


# --------------------------------------------------------------------------- reading the run directory


def _is_number(value: object) -> bool:
    """Finite ints and floats only: bools are ints in Python but never a score."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _read_json(path: Path) -> Any:
    """Parse a JSON file, turning a parse error into a DataError that names the file and line."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DataError(str(path), f"{err.lineno}:{err.colno}", f"not valid JSON ({err.msg})") from err


def _run_info(run_dir: Path) -> dict[str, Any]:
    """``run_info.json`` as a dict; empty when absent or unreadable, since every field is optional here."""
    path = run_dir / "run_info.json"
    if not path.is_file():
        return {}
    try:
        info = _read_json(path)
    except DataError:
        return {}
    return info if isinstance(info, dict) else {}


def stage_names(run_dir: Path) -> list[str]:
    """Evaluation stages in run order.

    ``run_info.json`` "stages" is authoritative because only the trainer knows the order of
    intermediate stages; without it, the directories under ``eval/`` are used, with "base" first,
    "final" last and anything else alphabetically between.
    """
    run_dir = Path(run_dir)
    stages = _run_info(run_dir).get("stages")
    if isinstance(stages, list) and stages and all(isinstance(s, str) for s in stages):
        return list(dict.fromkeys(stages))
    eval_dir = run_dir / "eval"
    found = sorted(p.name for p in eval_dir.iterdir() if p.is_dir() and not p.name.startswith(".")) \
        if eval_dir.is_dir() else []
    middle = [s for s in found if s not in ("base", "final")]
    return [s for s in ("base",) if s in found] + middle + [s for s in ("final",) if s in found]


def load_stage_summary(run_dir: Path, stage: str) -> dict[str, Any]:
    """``eval/<stage>/summary.json``; ``{"stage": stage, "tasks": {}}`` when the stage was not evaluated.

    A missing summary is normal (single-stage runs, a run that died before "final"), so it is an empty
    result; a summary that exists but is not valid JSON raises DataError, because that is a bug to see.
    """
    path = Path(run_dir) / "eval" / stage / "summary.json"
    if not path.is_file():
        return {"stage": stage, "tasks": {}}
    summary = _read_json(path)
    if not isinstance(summary, dict):
        raise DataError(str(path), "1", "expected a JSON object")
    if not isinstance(summary.get("tasks"), dict):
        summary["tasks"] = {}
    return summary


def _jsonl(path: Path) -> tuple[list[dict[str, Any]], int]:
    """Objects of a JSON-lines file and how many lines were unreadable (e.g. cut by a crash)."""
    rows: list[dict[str, Any]] = []
    bad = 0
    if not path.is_file():
        return rows, bad
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            bad += 1
            continue
        if isinstance(row, dict):
            rows.append(row)
        else:
            bad += 1
    return rows, bad


def load_loss_points(run_dir: Path) -> tuple[list[LossPoint], int]:
    """Loss-curve points of ``metrics.jsonl``; lines without a numeric step and loss are not steps."""
    rows, bad = _jsonl(Path(run_dir) / "metrics.jsonl")
    points = [
        LossPoint(float(r["step"]), float(r["loss"]), r["phase"] if isinstance(r.get("phase"), str) else None)
        for r in rows
        if _is_number(r.get("step")) and _is_number(r.get("loss"))
    ]
    return points, bad


def load_items(run_dir: Path, stage: str, task: str) -> list[dict[str, Any]]:
    """Per-item records of one task in one stage, in file order; empty when the file is absent."""
    return _jsonl(Path(run_dir) / "eval" / stage / f"{task}.jsonl")[0]


# --------------------------------------------------------------------------- numbers and verdicts


@dataclass(frozen=True)
class Estimate:
    """A metric value with its confidence interval (bounds optional: not every metric has one)."""

    value: float
    low: float | None = None
    high: float | None = None

    @classmethod
    def parse(cls, raw: object) -> Estimate | None:
        """Accept ``{"value", "low", "high"}`` or a bare number; anything else is "not measured"."""
        if _is_number(raw):
            return cls(float(raw))  # type: ignore[arg-type]
        if not isinstance(raw, dict) or not _is_number(raw.get("value")):
            return None
        low, high = raw.get("low"), raw.get("high")
        return cls(float(raw["value"]), float(low) if _is_number(low) else None,
                   float(high) if _is_number(high) else None)

    @property
    def lo(self) -> float:
        return self.low if self.low is not None else self.value

    @property
    def hi(self) -> float:
        return self.high if self.high is not None else self.value

    def __str__(self) -> str:
        if self.low is None or self.high is None:
            return f"{self.value:.1f}"
        return f"{self.value:.1f} [{self.low:.1f}, {self.high:.1f}]"


def verdict(before: Estimate | None, after: Estimate | None) -> str:
    """Call a change only when the intervals do not overlap; anything else could be sampling noise."""
    if before is None or after is None:
        return DASH
    if after.lo > before.hi:
        return "improved"
    if after.hi < before.lo:
        return "worse"
    return "within CI"


def retention(before: Estimate | None, after: Estimate | None) -> str:
    """After as a percentage of before: how much English ability the adaptation kept."""
    if before is None or after is None:
        return DASH
    if before.value == 0:
        return "n/a"
    return f"{after.value / before.value * 100:.1f} %"


def _fmt(estimate: Estimate | None) -> str:
    return DASH if estimate is None else str(estimate)


def _delta(before: Estimate | None, after: Estimate | None) -> str:
    return DASH if before is None or after is None else f"{after.value - before.value:+.1f}"


# --------------------------------------------------------------------------- the run, loaded once


@dataclass
class RunData:
    """Everything the report shows, read once; ``compared`` is the stages of the headline table."""

    run_dir: Path
    info: dict[str, Any]
    stages: list[str]
    summaries: dict[str, dict[str, Any]]
    compared: list[str]
    notes: list[str] = field(default_factory=list)

    def entry(self, stage: str, task: str) -> dict[str, Any] | None:
        entry = self.summaries.get(stage, {}).get(task)
        return entry if isinstance(entry, dict) else None

    def estimate(self, stage: str, task: str, metric: str) -> Estimate | None:
        entry = self.entry(stage, task) or {}
        metrics = entry.get("metrics")
        return Estimate.parse(metrics.get(metric)) if isinstance(metrics, dict) else None

    def tasks(self, stages: list[str]) -> list[str]:
        """Tasks in order of first appearance across ``stages``, so a one-stage task still shows."""
        return list(dict.fromkeys(t for s in stages for t in self.summaries.get(s, {})))

    def metrics(self, task: str, stages: list[str]) -> list[str]:
        names: list[str] = []
        for stage in stages:
            metrics = (self.entry(stage, task) or {}).get("metrics")
            names += list(metrics) if isinstance(metrics, dict) else []
        return list(dict.fromkeys(names))

    def task_field(self, task: str, key: str) -> Any:
        """A task attribute (language, kind, retention), preferring the latest stage that has it."""
        for stage in reversed(self.stages):
            entry = self.entry(stage, task)
            if entry is not None and key in entry:
                return entry[key]
        return None


def _load_run(run_dir: Path, before: str, after: str) -> RunData:
    """Read summaries of all stages; the headline compares ``before`` and ``after`` where they exist."""
    run = RunData(run_dir, _run_info(run_dir), stage_names(run_dir), {}, [])
    for stage in list(dict.fromkeys([*run.stages, before, after])):
        try:
            tasks = load_stage_summary(run_dir, stage)["tasks"]
        except DataError as err:
            run.notes.append(f"Could not read the summary of stage '{stage}': {err}")
            continue
        if tasks:
            run.summaries[stage] = tasks
    run.stages = [s for s in run.stages if s in run.summaries] + [
        s for s in (before, after) if s in run.summaries and s not in run.stages]
    run.compared = [s for s in dict.fromkeys([before, after]) if s in run.summaries]
    for stage in (before, after):
        if stage not in run.summaries:
            run.notes.append(f"No evaluation summary for stage '{stage}' (eval/{stage}/summary.json).")
    return run


# --------------------------------------------------------------------------- document blocks


@dataclass
class Cell:
    """A table cell; when ``full`` is longer than ``text``, HTML shows it in a <details> element."""

    text: str
    full: str | None = None


@dataclass
class Heading:
    text: str
    level: int = 2


@dataclass
class Para:
    text: str


@dataclass
class Table:
    headers: list[str]
    rows: list[list[Cell | str]]


@dataclass
class Image:
    rel_path: str
    alt: str
    png: bytes


@dataclass
class Code:
    text: str
    lang: str = ""


Block = Heading | Para | Table | Image | Code


def _duration(seconds: object) -> str:
    if not _is_number(seconds):
        return DASH
    total = int(round(float(seconds)))  # type: ignore[arg-type]
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    clock = f"{h}h {m:02d}m {s:02d}s" if h else f"{m}m {s:02d}s"
    return f"{clock} ({float(seconds):.1f} s)"  # type: ignore[arg-type]


def _count(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else DASH


def _header(run: RunData) -> list[Block]:
    info = run.info
    name = info.get("name") or run.run_dir.name
    finished = info.get("finished")
    rows: list[list[Cell | str]] = [
        ["Model", str(info.get("model") or DASH)],
        ["Target language", str(info.get("language") or DASH)],
        ["Device", str(info.get("device") or DASH)],
        ["Finished", DASH if finished is None else ("yes" if finished else "no")],
        ["Stages", ", ".join(run.stages) or DASH],
        ["Wall time", _duration(info.get("wall_time_s"))],
        ["Train time", _duration(info.get("train_time_s"))],
        ["Eval time", _duration(info.get("eval_time_s"))],
        ["Train tokens", _count(info.get("train_tokens"))],
        ["Train examples", _count(info.get("train_examples"))],
    ]
    blocks: list[Block] = [Heading(f"lingotune run report: {name}", 1), Table(["Run", str(name)], rows)]
    if not info:
        blocks.append(Para("run_info.json is missing or unreadable; run details are unknown."))
    return blocks + [Para(note) for note in run.notes]


def _task_cells(run: RunData, task: str) -> list[Cell | str]:
    return [task, str(run.task_field(task, "language") or DASH), str(run.task_field(task, "kind") or DASH)]


def _headline(run: RunData) -> list[Block]:
    """Before → after per (task, metric), or a single column when only one stage was evaluated."""
    blocks: list[Block] = [Heading("Results")]
    if not run.compared:
        return blocks + [Para("No evaluation results found under eval/.")]
    if len(run.compared) == 1:
        (stage,) = run.compared
        rows = [[*_task_cells(run, t), m, _fmt(run.estimate(stage, t, m))]
                for t in run.tasks([stage]) for m in run.metrics(t, [stage])]
        return blocks + [Table(["Task", "Language", "Kind", "Metric", stage], rows)]
    before, after = run.compared
    rows: list[list[Cell | str]] = []
    for task in run.tasks(run.compared):
        metrics = run.metrics(task, run.compared)
        for metric in metrics:
            b, a = run.estimate(before, task, metric), run.estimate(after, task, metric)
            rows.append([*_task_cells(run, task), metric, _fmt(b), _fmt(a), _delta(b, a), verdict(b, a)])
        if run.task_field(task, "retention") is True:
            for metric in metrics:
                b, a = run.estimate(before, task, metric), run.estimate(after, task, metric)
                rows.append([f"English retention ({task})", *_task_cells(run, task)[1:2], "retention",
                             metric, "", retention(b, a), "", ""])
    headers = ["Task", "Language", "Kind", "Metric", f"Before ({before})", f"After ({after})", "Δ", "Verdict"]
    note = Para("Values are on a 0–100 scale with confidence intervals in brackets. "
                "'improved' / 'worse' only when the intervals do not overlap. "
                "English retention = after / before × 100 %.")
    return blocks + [Table(headers, rows), note]


def _stage_table(run: RunData) -> list[Block]:
    """All stages side by side, for runs with intermediate stages (e.g. base, phase1, final)."""
    if len(run.stages) <= 2:
        return []
    rows = [[t, m, *(_fmt(run.estimate(s, t, m)) for s in run.stages)]
            for t in run.tasks(run.stages) for m in run.metrics(t, run.stages)]
    return [Heading("Per-stage results"), Table(["Task", "Metric", *run.stages], rows)]


def _safe_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_") or "metric"


def _plots(run: RunData, plots_dir: Path) -> list[Block]:
    """Loss curve and one bar chart per metric name; PNGs are saved for the Markdown to link."""
    blocks: list[Block] = [Heading("Plots")]
    points, bad = load_loss_points(run.run_dir)
    images: list[tuple[str, str, bytes]] = []
    if points:
        images.append(("loss.png", "Training loss", loss_curve_png(points)))
    else:
        blocks.append(Para("No loss curve: metrics.jsonl is missing or has no step with a loss."))
    if bad:
        blocks.append(Para(f"metrics.jsonl: {bad} unreadable line(s) skipped."))
    tasks = run.tasks(run.compared)
    metric_names = list(dict.fromkeys(m for t in tasks for m in run.metrics(t, run.compared)))
    for metric in metric_names:
        with_metric = [t for t in tasks if metric in run.metrics(t, run.compared)]
        series = [Series(stage, [_bar(run.estimate(stage, t, metric)) for t in with_metric])
                  for stage in run.compared]
        png = metric_bars_png(metric, with_metric, series)
        images.append((f"metric_{_safe_name(metric)}.png", f"{metric} by task", png))
    if images:
        plots_dir.mkdir(parents=True, exist_ok=True)
    for file_name, alt, png in images:
        (plots_dir / file_name).write_bytes(png)
        blocks.append(Image(f"{plots_dir.name}/{file_name}", alt, png))
    return blocks


def _bar(estimate: Estimate | None) -> tuple[float, float | None, float | None] | None:
    return None if estimate is None else (estimate.value, estimate.low, estimate.high)


def _text(value: object) -> str:
    """Show a reference list one per line and chat-message prompts as "role: content" lines."""
    if value is None:
        return ""
    if isinstance(value, list):
        return "\n".join(_text(v) for v in value)
    if isinstance(value, dict) and isinstance(value.get("content"), str):  # a chat message
        return f"{value.get('role', '?')}: {value['content']}"
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _clip(text: str, limit: int) -> Cell:
    return Cell(text) if len(text) <= limit else Cell(text[:limit].rstrip() + " …", text)


def _score(value: object) -> str:
    return f"{value:.1f}" if _is_number(value) else (DASH if value is None else str(value))


def _scores(items: list[dict[str, Any] | None]) -> str:
    """Per-item scores of each stage joined by →, plus the detected answer language."""
    score_dicts = [(i or {}).get("scores") for i in items]
    score_dicts = [d if isinstance(d, dict) else {} for d in score_dicts]
    names = list(dict.fromkeys(k for d in score_dicts for k in d))
    lines = [f"{n}: " + " → ".join(_score(d.get(n)) for d in score_dicts) for n in names]
    langs = [(i or {}).get("detected_language") for i in items]
    if any(lang is not None for lang in langs):
        lines.append("lang: " + " → ".join(str(lang) if lang is not None else DASH for lang in langs))
    return "\n".join(lines)


def _sample_row(item: dict[str, Any], matched: list[dict[str, Any] | None]) -> list[Cell | str]:
    """One item: id, prompt, reference, each stage's output (— where that stage lacks the id), scores."""
    outputs = [_clip(_text(m.get("output")), OUTPUT_CHARS) if m else DASH for m in matched]
    return [str(item.get("id")), _clip(_text(item.get("prompt")), PROMPT_CHARS),
            _clip(_text(item.get("reference")), OUTPUT_CHARS), *outputs, _scores(matched)]


def _samples(run: RunData) -> list[Block]:
    """First items of each task, matched by id across stages, so a reader sees what changed."""
    blocks: list[Block] = [Heading("Sample outputs")]
    if not run.compared:
        return blocks + [Para("No evaluation results, so no samples.")]
    outputs = [f"Output ({s})" for s in run.compared]
    for task in run.tasks(run.compared):
        by_stage = [load_items(run.run_dir, s, task) for s in run.compared]
        lead = next((items for items in by_stage if items), [])
        indexes = [{str(i.get("id")): i for i in items} for items in by_stage]
        blocks.append(Heading(task, 3))
        if not lead:
            blocks.append(Para(f"No per-item file (eval/<stage>/{task}.jsonl)."))
            continue
        rows = [_sample_row(item, [index.get(str(item.get("id"))) for index in indexes])
                for item in lead[:SAMPLES_PER_TASK]]
        blocks.append(Table(["ID", "Prompt", "Reference", *outputs, "Scores"], rows))
    return blocks


def _recipe(run: RunData) -> list[Block]:
    path = run.run_dir / "recipe.yaml"
    if not path.is_file():
        return [Heading("Recipe"), Para("recipe.yaml is missing.")]
    return [Heading("Recipe"), Code(path.read_text(encoding="utf-8", errors="replace"), "yaml")]


# --------------------------------------------------------------------------- rendering


def _md_escape(text: str) -> str:
    """Escape HTML (Markdown renders raw HTML, so a model's "<script>" must stay text)."""
    return html.escape(text, quote=False)


def _md_cell(cell: Cell | str) -> str:
    text = cell.text if isinstance(cell, Cell) else cell
    text = _md_escape(text).replace("\\", "\\\\").replace("|", "\\|")
    return re.sub(r"\r\n|\r|\n", "<br>", text) or " "


def _md_block(block: Block) -> str:
    match block:
        case Heading(text, level):
            return f"{'#' * level} {_md_escape(text)}"
        case Para(text):
            return _md_escape(text)
        case Table(headers, rows):
            lines = ["| " + " | ".join(_md_cell(h) for h in headers) + " |",
                     "|" + "---|" * len(headers)]
            lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
            return "\n".join(lines)
        case Image(rel_path, alt, _):
            return f"![{_md_escape(alt)}]({rel_path})"
        case Code(text, lang):
            fence = "`" * max(3, 1 + max((len(r) for r in re.findall(r"`+", text)), default=0))
            return f"{fence}{lang}\n{text.rstrip()}\n{fence}"
    raise TypeError(f"unknown block {block!r}")


def render_markdown(blocks: list[Block]) -> str:
    return "\n\n".join(_md_block(b) for b in blocks) + "\n"


def _html_cell(cell: Cell | str, tag: str = "td") -> str:
    if isinstance(cell, Cell) and cell.full is not None and cell.full != cell.text:
        inner = (f"<details><summary>{html.escape(cell.text)}</summary>"
                 f"<div class=\"full\">{html.escape(cell.full)}</div></details>")
    else:
        inner = html.escape(cell.text if isinstance(cell, Cell) else cell)
    return f"<{tag}>{inner}</{tag}>"


def _html_block(block: Block) -> str:
    match block:
        case Heading(text, level):
            return f"<h{level}>{html.escape(text)}</h{level}>"
        case Para(text):
            return f"<p>{html.escape(text)}</p>"
        case Table(headers, rows):
            head = "<tr>" + "".join(_html_cell(h, "th") for h in headers) + "</tr>"
            body = "".join("<tr>" + "".join(_html_cell(c) for c in row) + "</tr>" for row in rows)
            return f"<table><thead>{head}</thead><tbody>{body}</tbody></table>"
        case Image(_, alt, png):
            data = base64.b64encode(png).decode("ascii")
            return f"<figure><img alt=\"{html.escape(alt)}\" src=\"data:image/png;base64,{data}\"></figure>"
        case Code(text, _):
            return f"<pre><code>{html.escape(text)}</code></pre>"
    raise TypeError(f"unknown block {block!r}")


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1200px; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 4px 8px; vertical-align: top; text-align: left;
         white-space: pre-wrap; max-width: 32em; }
th { background: #f3f3f3; }
pre { background: #f6f8fa; padding: 1em; overflow-x: auto; }
img { max-width: 100%; }
summary { cursor: pointer; }
.full { margin-top: 0.5em; border-top: 1px dashed #bbb; }
"""


def render_html(blocks: list[Block], title: str) -> str:
    body = "\n".join(_html_block(b) for b in blocks)
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>\n<body>\n{body}\n</body></html>\n")


# --------------------------------------------------------------------------- entry point


def write_report(run_dir: Path, before: str = "base", after: str = "final") -> tuple[Path, Path]:
    """Write ``report.md`` (+ ``plots/*.png``) and a self-contained ``report.html`` into ``run_dir``.

    Returns (markdown path, html path).
    """
    run_dir = Path(run_dir)
    run = _load_run(run_dir, before, after)
    blocks: list[Block] = [*_header(run), *_headline(run), *_stage_table(run),
                           *_plots(run, run_dir / "plots"), *_samples(run), *_recipe(run)]
    md_path, html_path = run_dir / "report.md", run_dir / "report.html"
    md_path.write_text(render_markdown(blocks), encoding="utf-8")
    title = f"lingotune run report: {run.info.get('name') or run_dir.name}"
    html_path.write_text(render_html(blocks, title), encoding="utf-8")
    return md_path, html_path
