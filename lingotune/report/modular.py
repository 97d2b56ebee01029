"""The report of a modular run: every evaluated expert and variant against the base model.

A modular run has no single "after" model, so its report is a comparison (``compare.py``'s
tables, CIs, verdicts and plots) whose columns are the stages of one run folder, plus what only a
modular run has: the experts (data, freezing, training cost), the variants (merge method, the
mergekit YAML to rerun them), the experts' update magnitudes per block, and the loss curves.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lingotune.core.layout import RunLayout
from lingotune.report.compare import RunColumn, load_run, write_columns
from lingotune.report.document import Block, Code, Heading, Image, Para, Table, count, duration
from lingotune.report.english_tax import english_tax_blocks
from lingotune.report.plots import loss_curve_png
from lingotune.report.run_files import DASH, load_loss_points, load_stage_summary, run_info, stage_names
from lingotune.report.step_costs import step_cost_blocks


def is_modular(info: dict[str, Any]) -> bool:
    return bool(info.get("experts") or info.get("variants"))


def _relative(path: Path, run_dir: Path) -> str:
    return str(path.relative_to(run_dir)) if path.is_absolute() and path.is_relative_to(run_dir) else str(path)


def _column_info(info: dict[str, Any], stage: str, run_dir: Path) -> dict[str, Any]:
    expert = info.get("experts", {}).get(stage)
    variant = info.get("variants", {}).get(stage)
    summary = load_stage_summary(run_dir, stage)
    column = {"name": stage, "language": info.get("language"), "eval_time_s": summary.get("eval_time_s")}
    if expert is not None:
        column |= {"model": f"expert ({'frozen: ' + expert['frozen'] if expert.get('frozen') else 'all trainable'})",
                   "train_time_s": expert.get("train_time_s"), "train_tokens": expert.get("train_tokens"),
                   "folder": _relative(Path(expert.get("model_dir") or ""), run_dir)}
    elif variant is not None:
        column |= {"model": f"variant ({variant.get('method')})", "wall_time_s": variant.get("merge_time_s"),
                   "folder": f"variants/{stage}/model"}
    else:
        column |= {"model": info.get("model"), "folder": info.get("model")}
    return column


def _experts(info: dict[str, Any]) -> list[Block]:
    experts = info.get("experts") or {}
    if not experts:
        return []
    rows = [[name, e.get("frozen") or "nothing", count(e.get("train_examples")), count(e.get("train_tokens")),
             count(e.get("steps")), DASH if e.get("final_loss") is None else f"{e['final_loss']:.3f}",
             duration(e.get("train_time_s"))] for name, e in experts.items()]
    headers = ["Expert", "Frozen", "Examples", "Tokens", "Steps", "Final loss", "Train time"]
    return [Heading("Experts"), Table(headers, rows)]


def _variants(info: dict[str, Any], run_dir: Path) -> list[Block]:
    variants = info.get("variants") or {}
    if not variants:
        return []
    rows = []
    for name, v in variants.items():
        shown = _relative(Path(v.get("mergekit_config") or ""), run_dir)
        evaluated = "yes" if RunLayout(run_dir).summary(name).is_file() else "no (building block)"
        rows.append([name, str(v.get("method")), v.get("description") or DASH, evaluated,
                     duration(v.get("merge_time_s")), shown])
    headers = ["Variant", "Method", "What it is", "Evaluated", "Merge time", "mergekit YAML"]
    note = Para("Each variant's mergekit YAML reruns it: `mergekit-yaml YAML OUT_FOLDER` (absolute paths inside).")
    return [Heading("Variants"), Table(headers, rows), note]


def _analysis(info: dict[str, Any], run_dir: Path) -> list[Block]:
    png = run_dir / "analysis" / "update_magnitudes.png"
    analysis = info.get("analysis")
    if not png.is_file() or not analysis:
        return []
    s = analysis.get("suggestion") or {}
    text = (f"Relative update ||Δ||/||θ0|| per block and module type of the experts trained without freezing "
            f"({', '.join(analysis.get('experts', []))}). Suggested layer swap from it (first expert as the language "
            f"expert): bottom={s.get('bottom')}, top={s.get('top')} of {analysis.get('num_layers')} blocks "
            "(`lingotune merge analyze` gives the table).")
    return [Heading("Where the experts changed the model"), Para(text),
            Image("analysis/update_magnitudes.png", "update magnitudes per block", png.read_bytes())]


def _loss(run_dir: Path) -> list[Block]:
    points, _ = load_loss_points(run_dir)
    if not points:
        return []
    png = loss_curve_png(points, "Training loss of each expert (trained one after another)")
    (run_dir / "plots").mkdir(parents=True, exist_ok=True)
    (run_dir / "plots" / "loss.png").write_bytes(png)
    return [Heading("Training loss"), Image("plots/loss.png", "training loss per expert", png)]


def write_modular_report(run_dir: Path) -> tuple[Path, Path]:
    """``report.md``/``report.html`` of a modular run folder; columns in evaluation order, base first."""
    run_dir = Path(run_dir)
    info = run_info(run_dir)
    evaluated = set(stage_names(run_dir))
    order = [s for s in ["base", *info.get("stages", [])] if s in evaluated]
    order = list(dict.fromkeys(order + sorted(evaluated - set(order))))
    columns: list[RunColumn] = [load_run(run_dir, stage, stage, _column_info(info, stage, run_dir)) for stage in order]
    recipe = run_dir / "recipe.yaml"
    extra = [*english_tax_blocks(run_dir, order), *_experts(info), *_variants(info, run_dir),
             *_analysis(info, run_dir), *_loss(run_dir), *step_cost_blocks(run_dir)]
    if recipe.is_file():
        extra += [Heading("Recipe"), Code(recipe.read_text(encoding="utf-8", errors="replace"), "yaml")]
    title = f"lingotune run report: {info.get('name') or run_dir.name} (experts and merged variants)"
    return write_columns(columns, run_dir, "report", title, extra)
