"""One training job as the run plan calls it: a data section → built, tokenised examples → a trained
model in ``out_dir`` (checkpoints/, model/, adapter/)."""

from __future__ import annotations

from pathlib import Path

from lingotune.core.context import RunContext
from lingotune.core.errors import RecipeError
from lingotune.core.progress import console
from lingotune.data.assemble import build_training_examples
from lingotune.data.recipe_builders import BuildContext
from lingotune.data.spec import DataSpec
from lingotune.models.sources import ResolvedModel
from lingotune.train.sft import TrainResult
from lingotune.train.spec import SelfPacedSpec, TrainSpec
from lingotune.train.tokenize import TokenizedExample


def build_context(ctx: RunContext) -> BuildContext:
    return BuildContext(seed=ctx.seed, language_names=ctx.language_names)


def tokenized_training_data(data: DataSpec, spec: TrainSpec, tokenizer, ctx: RunContext,
                            out_dir: Path | None = None) -> tuple[list[TokenizedExample], int]:
    """The data section's examples, built, mixed and tokenised with loss masks; and how many were too long.
    Notes on how the data was drawn (switching levels) go to ``out_dir/data_notes.md``."""
    from lingotune.train.tokenize import tokenize_examples

    notes: list[str] = []
    examples = build_training_examples(data, build_context(ctx), notes)
    if notes and out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "data_notes.md").write_text("\n".join(notes), encoding="utf-8")
    tokenized, dropped = tokenize_examples(tokenizer, examples, spec.max_length)
    if spec.loss_on == "all":
        for item in tokenized:
            item.assistant_masks = [1] * len(item.input_ids)
    if dropped:
        console.print(f"[yellow]{dropped} of {len(examples)} training examples exceed "
                      f"train.max_length={spec.max_length} tokens and were left out[/yellow]")
    if not tokenized:
        raise RecipeError("no training example fits train.max_length; raise it or shorten the data")
    if spec.unlikelihood is not None:
        from lingotune.train.negatives import negative_twins, tokenize_negatives

        negatives = tokenize_negatives(tokenizer, negative_twins(examples, spec.unlikelihood, ctx.seed),
                                       spec.unlikelihood, spec.max_length)
        console.print(f"{len(negatives)} negative twins (echo/loop) to train against, "
                      f"unlikelihood weight {spec.unlikelihood.weight}")
        tokenized += negatives
    return tokenized, dropped


def train_on(model: ResolvedModel, data: DataSpec, spec: TrainSpec, ctx: RunContext, out_dir: Path, *,
             phase: str | None = None, step_offset: int = 0, self_paced: SelfPacedSpec | None = None,
             optimizer_state: Path | None = None, save_optimizer_state: bool = False) -> tuple[TrainResult, int]:
    """Build, tokenise and train on one data section; returns the trainer's result and the drop count."""
    from lingotune.models.loading import load_tokenizer

    spec = spec.model_copy(update={"dtype": ctx.resolve_dtype(spec.dtype)})
    tokenizer = load_tokenizer(model, trust_remote_code=ctx.trust_remote_code, padding_side="right")
    tokenized, dropped = tokenized_training_data(data, spec, tokenizer, ctx, out_dir)
    if self_paced is not None:
        from lingotune.train.self_paced_phase import train_self_paced_phase

        result = train_self_paced_phase(model, tokenizer, tokenized, spec, self_paced, ctx, out_dir,
                                        phase or "train", step_offset)
        return result, dropped
    from lingotune.train.sft import train_sft

    result = train_sft(model, tokenizer, tokenized, spec, out_dir, seed=ctx.seed,
                       trust_remote_code=ctx.trust_remote_code, phase=phase, metrics_path=ctx.layout.metrics,
                       step_offset=step_offset, optimizer_state=optimizer_state,
                       save_optimizer_state=save_optimizer_state)
    return result, dropped
