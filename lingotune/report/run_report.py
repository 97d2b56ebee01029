"""The run report: what a run did to the model, measured, in ``report.md`` and ``report.html``.

The report is read by someone deciding whether an adaptation worked, so it leads with the before →
after table: Δ = after − before with a paired bootstrap CI over the items both stages answered, and a
verdict ("better" / "worse" / "no clear difference": ``paired.verdict``, the same as ``lingotune compare``'s)
that calls a change only when that CI excludes 0. It reads only the run directory (``run_info.json``,
``metrics.jsonl``, ``eval/<stage>/``, ``recipe.yaml``) and tolerates any of those being absent: a crashed or
half-finished run is exactly when a report is most wanted, so missing pieces become notes instead of exceptions.

The content is first built as a small list of blocks (headings, tables, images, code) and then rendered
twice, so the Markdown and the HTML cannot drift apart.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lingotune.core.errors import DataError
from lingotune.language.echo_loop import ECHO_NGRAM, LOOP_NGRAM
from lingotune.report.document import (  # noqa: F401  (re-exported: the report's public rendering API)
    Block,
    Cell,
    Code,
    Heading,
    Image,
    Para,
    Table,
    count,
    duration,
    render_html,
    render_markdown,
)
from lingotune.report.estimates import Estimate, retention  # noqa: F401  (re-exported)
from lingotune.report.paired import (
    Comparison,
    Side,
    compare,
    delta_cell,
    explain,
    higher_is_better,
    task_verdicts,
    versus_cell,
)
from lingotune.report.plots import Series, loss_curve_png, metric_bars_png
from lingotune.report.run_files import (  # noqa: F401  (re-exported for callers of the report module)
    DASH,
    is_number,
    load_items,
    load_loss_points,
    load_stage_summary,
    run_info,
    stage_names,
)

SAMPLES_PER_TASK = 5  # default of the recipe's eval.samples_in_report
PROMPT_CHARS = 300
OUTPUT_CHARS = 500


# --------------------------------------------------------------------------- numbers


def _fmt(estimate: Estimate | None) -> str:
    return DASH if estimate is None else str(estimate)


def samples_per_task(run_dir: Path) -> int:
    """``eval.samples_in_report`` of the run folder's ``recipe.yaml``; the default when absent or unreadable.

    Read as plain YAML, not through the recipe schema: an old or hand-edited recipe must not stop a report."""
    try:
        recipe = yaml.safe_load((run_dir / "recipe.yaml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return SAMPLES_PER_TASK
    spec = recipe.get("eval") if isinstance(recipe, dict) else None
    value = spec.get("samples_in_report") if isinstance(spec, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else SAMPLES_PER_TASK


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

    def compare(self, before: str, after: str, task: str, metric: str) -> Comparison | None:
        """``after`` against ``before`` on one metric, paired over the task's records where they allow."""
        return compare(Side(self.run_dir, before, self.entry(before, task)),
                       Side(self.run_dir, after, self.entry(after, task)), task, metric)

    def task_field(self, task: str, key: str) -> Any:
        """A task attribute (language, kind, retention), preferring the latest stage that has it."""
        for stage in reversed(self.stages):
            entry = self.entry(stage, task)
            if entry is not None and key in entry:
                return entry[key]
        return None


def _load_run(run_dir: Path, before: str, after: str) -> RunData:
    """Read summaries of all stages; the headline compares ``before`` and ``after`` where they exist."""
    run = RunData(run_dir, run_info(run_dir), stage_names(run_dir), {}, [])
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
        ["Wall time", duration(info.get("wall_time_s"))],
        ["Train time", duration(info.get("train_time_s"))],
        ["Eval time", duration(info.get("eval_time_s"))],
        ["Train tokens", count(info.get("train_tokens"))],
        ["Train examples", count(info.get("train_examples"))],
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
    compared: list[tuple[str, Comparison | None]] = []
    for task in run.tasks(run.compared):
        metrics = run.metrics(task, run.compared)
        comparisons = {metric: run.compare(before, after, task, metric) for metric in metrics}
        verdicts = task_verdicts(comparisons)
        for metric, c in comparisons.items():
            b, a = run.estimate(before, task, metric), run.estimate(after, task, metric)
            compared.append((task, c))
            rows.append([*_task_cells(run, task), metric, _fmt(b), _fmt(a), delta_cell(c), verdicts[metric]])
        if run.task_field(task, "retention") is True:
            for metric in filter(higher_is_better, metrics):  # a ratio of failure rates or lengths means nothing
                b, a = run.estimate(before, task, metric), run.estimate(after, task, metric)
                rows.append([f"English retention ({task})", *_task_cells(run, task)[1:2], "retention",
                             metric, "", retention(b, a), "", ""])
    headers = ["Task", "Language", "Kind", "Metric", f"Before ({before})", f"After ({after})", "Δ [95 % CI]", "Verdict"]
    note = Para("Values are on a 0–100 scale (judge_score 1–10) with bootstrap 95 % CIs in brackets. "
                + explain(compared, f"{after} − {before}") + " English retention = after / before × 100 %.")
    return blocks + [Table(headers, rows), note, *_unclassified_note(run), *_answer_checks_note(run)]


def _unclassified_note(run: RunData) -> list[Block]:
    """Fidelity is the share among answers long enough to classify; how many were not is said here."""
    parts = []
    for task in run.tasks(run.compared):
        counts = [(run.entry(stage, task) or {}).get("n_unclassified") for stage in run.compared]
        sizes = [(run.entry(stage, task) or {}).get("n") for stage in run.compared]
        if any(c is not None for c in counts):
            shown = ", ".join(f"{stage}: {c if c is not None else DASH} of {n if n is not None else DASH}"
                              for stage, c, n in zip(run.compared, counts, sizes, strict=True))
            parts.append(f"{task} ({shown})")
    if not parts:
        return []
    return [Para("Answers too short to classify their language (left out of fidelity): " + "; ".join(parts) + ".")]


def _answer_checks_note(run: RunData) -> list[Block]:
    """What echo / loop / too_short mean, and their counts per stage, under the table that shows their rates."""
    parts, thresholds = [], None
    for task in run.tasks(run.compared):
        entries = [(stage, (run.entry(stage, task) or {}).get("answer_checks")) for stage in run.compared]
        shown = [(stage, c) for stage, c in entries if isinstance(c, dict)]
        if not shown:
            continue
        thresholds = thresholds or shown[0][1].get("thresholds")
        parts.append(f"{task} (" + "; ".join(
            f"{stage}: {c.get('n_echo', DASH)} echo, {c.get('n_loop', DASH)} loop, {c.get('n_too_short', DASH)} "
            f"too short, {c.get('n_real', DASH)} real, length p10/p50/p90 "
            + "/".join(DASH if q is None else f"{q:g}" for q in c.get("answer_chars_p10_p50_p90") or [None] * 3)
            for stage, c in shown) + ")")
    if not parts:
        return []
    t = thresholds or {}
    return [Para(
        "Open-ended answers are checked before their language counts: echo = mostly copied from the prompt "
        f"(≥ {t.get('echo', '?')} of its characters in runs of {ECHO_NGRAM[0]} words, or {ECHO_NGRAM[1]} "
        f"characters of unspaced scripts, found in the prompt), loop = ≥ {t.get('loop', '?')} of its "
        f"{LOOP_NGRAM[0]}-grams repeat an earlier one, "
        f"too_short = under {t.get('min_words', '?')} words. echo, loop and too_short are % of answers "
        "(lower is better; a rise of echo or loop beyond its CI makes the task's other verdicts 'worse'); "
        "answer_chars is the mean length in non-space characters. fidelity counts only real answers (none "
        "of the three), fidelity_raw every classifiable answer. Counts: " + "; ".join(parts) + ".")]


def _stage_table(run: RunData) -> list[Block]:
    """All stages side by side, each against the base (paired Δ, verdict), for runs with intermediate stages."""
    if len(run.stages) <= 2:
        return []
    base = run.compared[0] if run.compared else run.stages[0]
    later = [s for s in run.stages if s != base]
    rows: list[list[Cell | str]] = []
    compared: list[tuple[str, Comparison | None]] = []
    for task in run.tasks(run.stages):
        metrics = run.metrics(task, run.stages)
        by_stage = {s: {m: run.compare(base, s, task, m) for m in metrics} for s in later}
        verdicts = {s: task_verdicts(by_stage[s]) for s in later}
        for metric in metrics:
            compared += [(task, by_stage[s][metric]) for s in later]
            rows.append([task, metric, *(_fmt(run.estimate(s, task, metric)) for s in run.stages),
                         *(versus_cell(by_stage[s][metric], verdicts[s][metric]) for s in later)])
    headers = ["Task", "Metric", *run.stages, *(f"{s} vs {base}" for s in later)]
    note = Para(explain(compared, f"stage − {base}"))
    return [Heading("Per-stage results"), Table(headers, rows), note]


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
    for spl_png in sorted(run.run_dir.glob("phases/*/spl.png")):  # self-paced learning: selection per epoch
        images.append((f"spl_{spl_png.parent.name}.png", f"self-paced learning, phase {spl_png.parent.name}",
                       spl_png.read_bytes()))
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
    return f"{value:.1f}" if is_number(value) else (DASH if value is None else str(value))


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
    shown = samples_per_task(run.run_dir)
    for task in run.tasks(run.compared):
        by_stage = [load_items(run.run_dir, s, task) for s in run.compared]
        lead = next((items for items in by_stage if items), [])
        indexes = [{str(i.get("id")): i for i in items} for items in by_stage]
        blocks.append(Heading(task, 3))
        if not lead:
            blocks.append(Para(f"No per-item file (eval/<stage>/{task}.jsonl)."))
            continue
        rows = [_sample_row(item, [index.get(str(item.get("id"))) for index in indexes])
                for item in lead[:shown]]
        blocks.append(Table(["ID", "Prompt", "Reference", *outputs, "Scores"], rows))
    return blocks


def _recipe(run: RunData) -> list[Block]:
    path = run.run_dir / "recipe.yaml"
    if not path.is_file():
        return [Heading("Recipe"), Para("recipe.yaml is missing.")]
    return [Heading("Recipe"), Code(path.read_text(encoding="utf-8", errors="replace"), "yaml")]


# --------------------------------------------------------------------------- entry point


def write_report(run_dir: Path, before: str = "base", after: str = "final") -> tuple[Path, Path]:
    """Write ``report.md`` (+ ``plots/*.png``) and a self-contained ``report.html`` into ``run_dir``.

    Returns (markdown path, html path). A modular run (experts and variants, no single "after")
    gets the comparison of all its stages instead (``modular_report.py``).
    """
    from lingotune.report.english_tax import english_tax_blocks
    from lingotune.report.modular import is_modular, write_modular_report
    from lingotune.report.step_costs import step_cost_blocks

    run_dir = Path(run_dir)
    if is_modular(run_info(run_dir)) and (before, after) == ("base", "final"):
        return write_modular_report(run_dir)
    run = _load_run(run_dir, before, after)
    blocks: list[Block] = [*_header(run), *_headline(run), *_stage_table(run),
                           *english_tax_blocks(run_dir, [before, after]),
                           *_plots(run, run_dir / "plots"), *_samples(run), *step_cost_blocks(run_dir),
                           *_recipe(run)]
    md_path, html_path = run_dir / "report.md", run_dir / "report.html"
    md_path.write_text(render_markdown(blocks), encoding="utf-8")
    title = f"lingotune run report: {run.info.get('name') or run_dir.name}"
    html_path.write_text(render_html(blocks, title), encoding="utf-8")
    return md_path, html_path
