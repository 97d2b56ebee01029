"""Where did fine-tuning change the model? Relative update magnitude per block × module type.

Layer swapping chose its layers from "the magnitude of change during SFT" of each expert
(Bandarkar et al. 2025, methods.md §3.1–3.2): the language expert changes most in the bottom and
top blocks, the math expert in the middle. This module measures it for any experts:

    rel(block, module) = ||θ_X − θ_0||_F / ||θ_0||_F  over the block's tensors of that module type

(the Frobenius ratio rather than methods.md's elementwise mean of |Δ|/|θ0|, which near-zero base
entries dominate). Tensors are streamed one pair at a time with mergekit's lazy loader, so any
model size fits in memory.

Suggested ``bottom``/``top`` (first expert = language expert, second = task expert, as listed):
the longest run of blocks from the bottom (and from the top) where the language expert's whole-block
ratio exceeds the task expert's. With one expert: runs where its ratio exceeds its median over
blocks. Both are capped so at least one middle block stays with the task expert.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from pathlib import Path

from lingotune.models.adapters import resolve_checkpoint
from lingotune.models.layout import ModelLayout, check_compatible, tensor_shapes


@dataclass
class UpdateAnalysis:
    experts: list[str]
    num_layers: int
    module_types: list[str]
    # expert → [block][module type] relative update (None where the block has no such module)
    per_module: dict[str, list[list[float | None]]] = field(default_factory=dict)
    per_block: dict[str, list[float]] = field(default_factory=dict)
    non_block: dict[str, dict[str, float]] = field(default_factory=dict)
    suggestion: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict:
        return self.__dict__.copy()


def _short(module: str) -> str:
    return module.split(".")[-1]


def analyze_updates(base: str, experts: list[str], labels: list[str] | None = None) -> UpdateAnalysis:
    """Relative update magnitudes of each expert against ``base`` (sources resolved like merge inputs);
    ``labels`` name the experts in tables and plots (default: their sources)."""
    from mergekit.io.lazy_tensor_loader import LazyTensorLoader

    base_path = resolve_checkpoint(base, "base")
    expert_paths = [resolve_checkpoint(e, f"expert {i + 1}") for i, e in enumerate(experts)]
    experts = list(labels) if labels is not None else experts
    labelled = {"base": base_path} | {f"expert {e}": p for e, p in zip(experts, expert_paths, strict=True)}
    layout: ModelLayout = check_compatible(labelled)
    names = list(tensor_shapes(base_path))
    modules = sorted({_short(layout.module_type(n)) for n in names if n in layout.block_of})
    base_loader = LazyTensorLoader.from_disk(str(base_path))
    result = UpdateAnalysis(experts=list(experts), num_layers=layout.num_layers, module_types=modules)
    for expert, path in zip(experts, expert_paths, strict=True):
        loader = LazyTensorLoader.from_disk(str(path))
        delta_sq = [[0.0] * len(modules) for _ in range(layout.num_layers)]
        base_sq = [[0.0] * len(modules) for _ in range(layout.num_layers)]
        result.non_block[expert] = {}
        for name in names:
            theta0 = base_loader.get_tensor(name).float()
            d = float((loader.get_tensor(name).float() - theta0).pow(2).sum())
            b = float(theta0.pow(2).sum())
            block = layout.block_of.get(name)
            if block is None:
                result.non_block[expert][name] = (d / b) ** 0.5 if b else 0.0
                continue
            column = modules.index(_short(layout.module_type(name)))
            delta_sq[block][column] += d
            base_sq[block][column] += b
        result.per_module[expert] = [
            [(d / b) ** 0.5 if b else None for d, b in zip(drow, brow, strict=True)]
            for drow, brow in zip(delta_sq, base_sq, strict=True)
        ]
        result.per_block[expert] = [
            (sum(drow) / sum(brow)) ** 0.5 if sum(brow) else 0.0 for drow, brow in zip(delta_sq, base_sq, strict=True)
        ]
        loader.flush()
    result.suggestion = suggest_bottom_top(result)
    return result


def suggest_bottom_top(analysis: UpdateAnalysis) -> dict[str, int]:
    """The rule in the module docstring: edge runs where the language expert dominates."""
    blocks = analysis.per_block
    language = blocks[analysis.experts[0]]
    if len(analysis.experts) > 1:
        task = blocks[analysis.experts[1]]
        dominant = [lang > t for lang, t in zip(language, task, strict=True)]
    else:
        median = statistics.median(language)
        dominant = [v > median for v in language]
    n = len(dominant)
    bottom = next((i for i, d in enumerate(dominant) if not d), n)
    top = next((i for i, d in enumerate(reversed(dominant)) if not d), n)
    bottom = min(bottom, n - 1)
    top = min(top, n - 1 - bottom)
    return {"bottom": bottom, "top": top}


def print_table(analysis: UpdateAnalysis, console=None) -> None:
    """One rich table per expert: blocks as rows, module types as columns, plus the block total."""
    from rich.table import Table

    from lingotune.core.progress import console as default_console

    console = console or default_console
    for expert in analysis.experts:
        table = Table(title=f"relative update ||Δ||/||θ0|| — {expert}")
        table.add_column("block", justify="right")
        for module in analysis.module_types:
            table.add_column(module, justify="right")
        table.add_column("block", justify="right", style="bold")
        for i, row in enumerate(analysis.per_module[expert]):
            cells = ["—" if v is None else f"{v:.2e}" for v in row]
            table.add_row(str(i), *cells, f"{analysis.per_block[expert][i]:.2e}")
        for name, value in analysis.non_block[expert].items():
            table.add_row(name, *[""] * len(analysis.module_types), f"{value:.2e}")
        console.print(table)
    s = analysis.suggestion
    console.print(f"suggested layer swap: bottom={s['bottom']} top={s['top']} (of {analysis.num_layers} blocks; "
                  f"first expert taken as the language expert)")


def save_heatmap(analysis: UpdateAnalysis, path: Path) -> Path:
    """Heat map per expert (blocks × module types, log colour scale shared across experts)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from matplotlib.colors import LogNorm

    grids = [np.array([[np.nan if v is None else v for v in row] for row in analysis.per_module[e]], dtype=float)
             for e in analysis.experts]
    positive = np.concatenate([g[np.isfinite(g) & (g > 0)] for g in grids] + [np.array([1e-12])])
    norm = LogNorm(vmin=max(positive.min(), 1e-12), vmax=max(positive.max(), 1e-11))
    fig, axes = plt.subplots(1, len(grids), figsize=(1.2 + 0.6 * len(analysis.module_types) * len(grids),
                                                      1.5 + 0.25 * analysis.num_layers), squeeze=False)
    for ax, grid, expert in zip(axes[0], grids, analysis.experts, strict=True):
        image = ax.imshow(np.where(grid > 0, grid, np.nan), origin="lower", aspect="auto", cmap="viridis", norm=norm)
        ax.set_xticks(range(len(analysis.module_types)), analysis.module_types, rotation=60, ha="right", fontsize=7)
        ax.set_ylabel("block")
        ax.set_title(Path(expert).name or expert, fontsize=8)
    fig.colorbar(image, ax=axes[0].tolist(), label="||Δ|| / ||θ0||")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path
