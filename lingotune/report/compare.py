"""``lingotune compare RUN_DIR...``: one report across runs (Markdown + self-contained HTML + PNGs).

Each run contributes one stage, "final" when it was trained and evaluated after, else "base", read
from its own ``eval/<stage>/summary.json`` (judge results included, also from
``eval/<stage>/judge/summary.json`` when the stage summary lacks them) and ``run_info.json``. The
table shows every (task, metric) per run with its CI and, against the chosen baseline run, Δ with a
paired bootstrap CI over the items both runs answered and the verdict of every lingotune report
(``paired.verdict``: "better"/"worse" when that CI excludes 0, else "no clear difference"). Reading,
blocks, rendering and plots are ``document.py``'s and ``plots.py``'s, imported, so both reports look alike.

Optionally, given a judge, each run's answers are compared pairwise with the baseline run's
(both orders, through the request cache) and the win rates are added.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lingotune.core.errors import LingotuneError
from lingotune.core.layout import RunLayout
from lingotune.report.document import Block, Heading, Image, Para, Table, duration, render_html, render_markdown
from lingotune.report.estimates import Estimate, retention
from lingotune.report.paired import (
    Comparison,
    Side,
    compare,
    delta_cell,
    explain,
    higher_is_better,
    task_verdicts,
    verdict,
    versus_cell,
)
from lingotune.report.plots import Series, metric_bars_png
from lingotune.report.run_files import DASH, load_stage_summary, run_info, stage_names

ONE_TO_TEN = {"judge_score"}  # MT-Bench's scale; everything else is 0–100


@dataclass
class RunColumn:
    label: str
    run_dir: Path
    stage: str
    info: dict[str, Any]
    tasks: dict[str, dict[str, Any]]
    base_tasks: dict[str, dict[str, Any]]
    judge: dict[str, Any] | None

    def estimate(self, task: str, metric: str, tasks: dict[str, dict[str, Any]] | None = None) -> Estimate | None:
        metrics = (tasks if tasks is not None else self.tasks).get(task, {}).get("metrics")
        return Estimate.parse(metrics.get(metric)) if isinstance(metrics, dict) else None

    def side(self, task: str) -> Side:
        """This column as one system of a paired comparison (its records are under its own run folder)."""
        entry = self.tasks.get(task)
        return Side(self.run_dir, self.stage, entry if isinstance(entry, dict) else None, self.label)


def _judge_summary(run_dir: Path, stage: str) -> dict[str, Any] | None:
    path = RunLayout(run_dir).eval_dir(stage) / "judge" / "summary.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else None


def load_run(run_dir: str | Path, label: str | None = None, stage: str | None = None,
             info: dict[str, Any] | None = None) -> RunColumn:
    """One column: ``stage`` of ``run_dir`` (default "final" when it was evaluated, else "base")."""
    run_dir = Path(run_dir)
    if not (run_dir / "eval").is_dir():
        raise LingotuneError(f"{run_dir} has no eval/ folder: is it a lingotune run folder?")
    if stage is None:
        stages = stage_names(run_dir)
        stage = "final" if "final" in stages else "base" if "base" in stages else (stages[-1] if stages else "base")
    tasks = dict(load_stage_summary(run_dir, stage)["tasks"])
    judge = _judge_summary(run_dir, stage)
    if judge is not None and judge.get("name", "judge") not in tasks:
        from lingotune.eval.judge.run import task_entry

        tasks[judge.get("name", "judge")] = task_entry(judge)
    base = load_stage_summary(run_dir, "base")["tasks"] if stage != "base" else {}
    info = info if info is not None else run_info(run_dir)
    return RunColumn(label or info.get("name") or run_dir.name, run_dir, stage, info, tasks, base, judge)


def _unique_labels(runs: list[RunColumn]) -> None:
    seen: dict[str, int] = {}
    for run in runs:
        seen[run.label] = seen.get(run.label, 0) + 1
        if seen[run.label] > 1:
            run.label = f"{run.label} ({run.run_dir})"


def _fmt(estimate: Estimate | None) -> str:
    return DASH if estimate is None else str(estimate)


def versus(baseline: RunColumn, other: RunColumn, task: str, metric: str) -> Comparison | None:
    """``other`` against ``baseline`` on one metric, paired over the items both answered where possible."""
    return compare(baseline.side(task), other.side(task), task, metric)


def _tokens(run: RunColumn) -> str:
    parts = []
    if isinstance(run.info.get("train_tokens"), int):
        parts.append(f"train {run.info['train_tokens']:,}")
    requests = (run.judge or {}).get("requests") or {}
    for role in ("answers", "judge"):
        stats = requests.get(role) or {}
        used = (stats.get("prompt_tokens") or 0) + (stats.get("completion_tokens") or 0)
        if stats:
            parts.append(f"{role} {used:,} ({stats.get('requests', 0)} requests, {stats.get('hits', 0)} cached)")
    return "; ".join(parts) or DASH


def _header(runs: list[RunColumn], baseline: RunColumn, title: str) -> list[Block]:
    rows = [[r.label + (" (baseline)" if r is baseline else ""), str(r.info.get("model") or DASH),
             str(r.info.get("language") or DASH), r.stage, duration(r.info.get("wall_time_s")),
             duration(r.info.get("train_time_s")), duration(r.info.get("eval_time_s")), _tokens(r),
             str(r.info.get("folder") or r.run_dir)]
            for r in runs]
    headers = ["Run", "Model", "Language", "Stage", "Wall time", "Train time", "Eval time", "Tokens", "Folder"]
    return [Heading(title, 1), Table(headers, rows)]


def _results(runs: list[RunColumn], baseline: RunColumn) -> tuple[list[Block], list[tuple[str, str]]]:
    keys: list[tuple[str, str]] = []
    for run in runs:
        for task, entry in run.tasks.items():
            metrics = entry.get("metrics") if isinstance(entry, dict) else None
            keys += [(task, m) for m in (metrics or {}) if (task, m) not in keys]
    others = [r for r in runs if r is not baseline]
    headers = ["Task", "Language", "Metric", *[r.label for r in runs],
               *[f"{r.label} vs {baseline.label}" for r in others]]
    rows: list[list[Any]] = []
    compared: list[tuple[str, Comparison | None]] = []
    # per other run, per task: {metric: comparison}, so each task's verdicts get the open-ended guard
    pairs_of = [{task: {m: versus(baseline, r, task, m) for t, m in keys if t == task}
                 for task in dict.fromkeys(t for t, _ in keys)} for r in others]
    verdicts = [{task: task_verdicts(by_metric) for task, by_metric in run_pairs.items()} for run_pairs in pairs_of]
    for task, metric in keys:
        entry = next((r.tasks[task] for r in runs if task in r.tasks), {})
        scale = " (1–10)" if metric in ONE_TO_TEN else ""
        values = [r.estimate(task, metric) for r in runs]
        cells = [(run_pairs[task][metric], run_verdicts[task][metric])
                 for run_pairs, run_verdicts in zip(pairs_of, verdicts, strict=True)]
        compared += [(task, c) for c, _ in cells]
        rows.append([task, str(entry.get("language") or DASH), metric + scale, *map(_fmt, values),
                     *(versus_cell(c, v) for c, v in cells)])
        if entry.get("retention") is True and higher_is_better(metric):
            kept = [retention(r.estimate(task, metric, r.base_tasks), r.estimate(task, metric)) if r.base_tasks
                    else DASH for r in runs]
            rows.append([f"English retention ({task})", str(entry.get("language") or DASH),
                         f"{metric}: final ÷ base", *kept, *[""] * len(others)])
    note = Para("Values with 95 % bootstrap CIs in brackets; judge_score is MT-Bench's 1–10 scale, everything "
                f"else 0–100. 'RUN vs {baseline.label}': Δ [95 % CI] and verdict. "
                + explain(compared, f"RUN − {baseline.label}") + " English retention is each run's own final ÷ base.")
    return [Heading("Results"), Table(headers, rows), note], keys


def best_per_metric(runs: list[RunColumn], keys: list[tuple[str, str]]) -> list[Block]:
    """Which column scored best on each metric, and whether it is better than the runner-up (paired Δ).

    Best is highest for scores (F1, EM, chrF, BLEU, fidelity, judge score) and lowest for failure rates
    (echo, loop, too_short); answer length has no best and is left out."""
    rows: list[list[Any]] = []
    compared: list[tuple[str, Comparison | None]] = []
    for task, metric in keys:
        if (higher := higher_is_better(metric)) is None:
            continue
        scored = sorted(((e, r) for r in runs if (e := r.estimate(task, metric)) is not None),
                        key=lambda pair: pair[0].value, reverse=higher)
        if len(scored) < 2:
            continue
        (best, best_run), (second, second_run) = scored[:2]
        compared.append((task, c := versus(second_run, best_run, task, metric)))
        rows.append([task, metric, best_run.label, str(best), second_run.label, str(second), delta_cell(c),
                     verdict(c)])
    if not rows:
        return []
    headers = ["Task", "Metric", "Best", "Value", "Runner-up", "Value", "Δ [95 % CI]", "Verdict"]
    return [Heading("Best per metric"), Table(headers, rows), Para(explain(compared, "best − runner-up"))]


def _plots(runs: list[RunColumn], keys: list[tuple[str, str]], plots_dir: Path) -> list[Block]:
    blocks: list[Block] = [Heading("Plots")]
    metrics = list(dict.fromkeys(m for _, m in keys))
    plots_dir.mkdir(parents=True, exist_ok=True)
    for metric in metrics:
        tasks = [t for t, m in keys if m == metric]
        factor = 10.0 if metric in ONE_TO_TEN else 1.0  # plotted on the shared 0–100 axis
        series = []
        for run in runs:
            bars = []
            for task in tasks:
                e = run.estimate(task, metric)
                bars.append(None if e is None else (e.value * factor, e.lo * factor, e.hi * factor))
            series.append(Series(run.label, bars))
        title = f"{metric} ×10" if factor != 1.0 else metric
        png = metric_bars_png(title, tasks, series)
        name = "".join(c if c.isalnum() or c in "-_" else "_" for c in metric) + ".png"
        (plots_dir / name).write_bytes(png)
        blocks.append(Image(f"{plots_dir.name}/{name}", f"{metric} by task and run", png))
    return blocks


def add_pairwise(runs: list[RunColumn], baseline: RunColumn, judge: Any, out_dir: Path) -> None:
    """Judge each run's answers against the baseline run's, both orders, and add the win rates as a task.

    Needs the judge answers each run saved (``eval/<stage>/judge/answers.jsonl``); the questions and
    language come from the baseline run's judge summary."""
    from lingotune.eval.judge.config import JudgeSpec
    from lingotune.eval.judge.run import run_judge, task_entry

    def answers_of(run: RunColumn) -> Path:
        path = RunLayout(run.run_dir).eval_dir(run.stage) / "judge" / "answers.jsonl"
        if not path.is_file() or run.judge is None:
            raise LingotuneError(f"{run.run_dir}: no judge answers ({path}); run the judge (eval.judge) first")
        return path

    base_answers = answers_of(baseline)
    for run in runs:
        if run is baseline:
            continue
        spec = JudgeSpec(name=f"pairwise_vs_{baseline.label}"[:60].replace(" ", "_"),
                         questions=baseline.judge["questions"], language=baseline.judge["language"],
                         turns=baseline.judge.get("turns", [1]), judge=judge, mode="pairwise",
                         answers=str(answers_of(run)), baseline_answers=str(base_answers),
                         baseline_name=baseline.label)
        summary = run_judge(spec, out_dir / run.run_dir.name, model_name=run.label)
        run.tasks[spec.name] = task_entry(summary)


def write_comparison(run_dirs: list[str | Path], out_dir: str | Path, baseline: str | Path | None = None,
                     judge: Any | None = None) -> tuple[Path, Path]:
    """Write ``comparison.md``, ``comparison.html`` and ``plots/*.png`` into ``out_dir``.

    ``baseline``: one of ``run_dirs`` (default: the first). ``judge``: a ``BackendSpec``; when given,
    each run's judge answers are compared pairwise with the baseline run's and win rates are added."""
    if not run_dirs:
        raise LingotuneError("compare needs at least one run folder")
    runs = [load_run(d) for d in run_dirs]
    base_path = Path(baseline).resolve() if baseline else runs[0].run_dir.resolve()
    matches = [r for r in runs if r.run_dir.resolve() == base_path]
    if not matches:
        raise LingotuneError(f"the baseline {baseline} is not one of the compared runs")
    runs = matches[:1] + [r for r in runs if r is not matches[0]]  # the baseline first, in tables and plots
    _unique_labels(runs)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if judge is not None:
        add_pairwise(runs, matches[0], judge, out_dir / "pairwise")
    return write_columns(runs, out_dir, "comparison")


def write_columns(runs: list[RunColumn], out_dir: Path, stem: str, title: str = "lingotune comparison",
                  extra: list[Block] | None = None) -> tuple[Path, Path]:
    """Render columns (the first is the baseline) to ``<stem>.md``/``.html`` and ``plots/`` in ``out_dir``."""
    baseline = runs[0]
    results, keys = _results(runs, baseline)
    blocks = [*_header(runs, baseline, title), *results, *best_per_metric(runs, keys), *(extra or []),
              *_plots(runs, keys, out_dir / "plots")]
    md_path, html_path = out_dir / f"{stem}.md", out_dir / f"{stem}.html"
    md_path.write_text(render_markdown(blocks), encoding="utf-8")
    html_path.write_text(render_html(blocks, title), encoding="utf-8")
    return md_path, html_path


def compare_command(
    run_dirs: list[Path],
    out: Path | None = None,
    baseline: Path | None = None,
    judge_url: str | None = None,
    judge_model: str | None = None,
    judge_key_env: str | None = None,
) -> None:
    """Body of ``lingotune compare``; the lead wraps it in a typer command (see docs/judge_and_serve.md)."""
    from lingotune.core.progress import console

    judge = None
    if judge_model:
        from lingotune.eval.judge.config import BackendSpec

        judge = BackendSpec(model=judge_model, base_url=judge_url, api_key_env=judge_key_env)
    out_dir = out or Path("comparisons") / "-".join(Path(d).name for d in run_dirs)
    md, html = write_comparison(run_dirs, out_dir, baseline, judge)
    console.print(f"Comparison: {md}\n            {html}")
