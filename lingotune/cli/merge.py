"""``lingotune merge RECIPE.yaml`` and ``lingotune merge analyze BASE EXPERT...``.

Mounted by the main CLI with ``app.add_typer(merge_app, name="merge")``. ``lingotune merge FILE``
is short for ``lingotune merge run FILE``: the group routes a first argument that is not a
sub-command to ``run``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from typer.core import TyperGroup

from lingotune.cli.errors import user_errors
from lingotune.core.progress import console


class _RunByDefault(TyperGroup):
    def parse_args(self, ctx, args):
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


merge_app = typer.Typer(
    cls=_RunByDefault, no_args_is_help=True,
    help="Merge experts (layer swap, revert, linear, task_arithmetic, ties, dare_ties, slerp) with mergekit.",
)


@merge_app.command("run")
@user_errors
def run_command(
    recipe: Path,
    overrides: Annotated[list[str] | None, typer.Argument(help="key=value overrides, e.g. merge.bottom=4")] = None,
    out: Annotated[Path | None, typer.Option(help="run folder (default: output_dir or runs/<name>)")] = None,
) -> None:
    """Run the ``merge:`` section of a recipe; writes RUN/model/ and RUN/mergekit_config.yaml."""
    from lingotune.merge.config import load_merge_section
    from lingotune.merge.run import run_merge_spec

    spec, tree = load_merge_section(recipe, overrides)
    run_dir = out or Path(tree.get("output_dir") or Path("runs") / str(tree.get("name") or recipe.stem))
    result = run_merge_spec(spec, run_dir / "model", run_dir, quiet=False)
    console.print(f"Merged ({spec.method}) in {result.seconds:.0f}s → {result.model_dir}")
    console.print(f"mergekit configuration: {result.config_path} (rerun: mergekit-yaml {result.config_path} OUT)")


@merge_app.command("analyze")
@user_errors
def analyze_command(
    base: Annotated[str, typer.Argument(help="the model the experts were fine-tuned from")],
    experts: Annotated[list[str], typer.Argument(help="experts; the first is taken as the language expert")],
    out: Annotated[Path, typer.Option(help="folder for update_magnitudes.json and .png")] = Path("merge-analysis"),
) -> None:
    """Relative update magnitude per block and module type, a heat map, and a suggested bottom/top."""
    from lingotune.merge.analyze import analyze_updates, print_table, save_heatmap

    analysis = analyze_updates(base, experts)
    print_table(analysis)
    out.mkdir(parents=True, exist_ok=True)
    (out / "update_magnitudes.json").write_text(json.dumps(analysis.to_json(), indent=2))
    png = save_heatmap(analysis, out / "update_magnitudes.png")
    console.print(f"Heat map: {png}")
