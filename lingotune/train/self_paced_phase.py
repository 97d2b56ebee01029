"""A training phase run with self-paced learning (methods.md §1.4, §8): easy → hard, then all.

The model is created once and kept across SPL epochs; so is the optimizer, with a constant learning
rate across epochs ([INF]: the paper's schedule is not published; a schedule restarted every epoch
would re-warm the LR each time the selection grows). Each SPL epoch trains on the examples whose
weight is > 0 with lingotune's weighted loss. Resume works at phase granularity (a finished phase is
skipped); an SPL phase interrupted midway restarts from its beginning.
"""

from __future__ import annotations

import time
from contextlib import nullcontext
from pathlib import Path

from lingotune.core.context import RunContext
from lingotune.core.progress import console
from lingotune.models.loading import resolve_dtype
from lingotune.models.sources import ResolvedModel
from lingotune.train.callbacks import MetricsJsonl, RichProgress, step_callbacks
from lingotune.train.packing import training_collator
from lingotune.train.self_paced import (
    WeightedDataCollator,
    WeightedLossTrainer,
    example_difficulty,
    plot_spl,
    run_self_paced,
    weighted_dataset,
)
from lingotune.train.sft import TrainResult, prepare_trainable, save_final, training_arguments
from lingotune.train.spec import SelfPacedSpec, TrainSpec
from lingotune.train.tokenize import TokenizedExample


def train_self_paced_phase(model: ResolvedModel, tokenizer, examples: list[TokenizedExample], spec: TrainSpec,
                           spl: SelfPacedSpec, ctx: RunContext, phase_dir: Path, phase: str,
                           step_offset: int) -> TrainResult:
    import torch
    from transformers.trainer_callback import PrinterCallback

    metrics_path = ctx.layout.metrics
    trained = prepare_trainable(model, spec, ctx.seed, ctx.trust_remote_code)
    parameters = [p for p in trained.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(parameters, lr=spec.learning_rate, weight_decay=spec.weight_decay)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda _: 1.0)
    bf16 = resolve_dtype(spec.dtype) == torch.bfloat16
    state = {"steps": 0, "tokens": 0, "loss": None}
    started = time.time()

    def score(items):
        with torch.autocast("cpu", dtype=torch.bfloat16) if bf16 and not torch.cuda.is_available() else nullcontext():
            return example_difficulty(trained, items, batch_size=spec.batch_size)

    def train_one_epoch(selected, weights, epoch):
        args = training_arguments(spec, phase_dir / "checkpoints" / f"spl-{epoch}", ctx.seed,
                                  num_train_epochs=1, max_steps=-1, save_strategy="no")
        trainer = WeightedLossTrainer(
            model=trained, args=args, train_dataset=weighted_dataset(selected, weights),
            data_collator=(training_collator(tokenizer, trained, True) if spec.packing  # carries the weights
                           else WeightedDataCollator(tokenizer, padding=True, label_pad_token_id=-100)),
            optimizers=(optimizer, scheduler),
            callbacks=[MetricsJsonl(metrics_path, phase, 0, step_offset + state["steps"]),
                       RichProgress(f"Training {phase} (SPL epoch {epoch + 1})"),
                       *step_callbacks(spec.trim_memory_every, spec.trim_memory_above_mb)],
        )
        trainer.remove_callback(PrinterCallback)
        output = trainer.train()
        state["steps"] += output.global_step
        state["tokens"] += sum(len(e.input_ids) for e in selected)
        state["loss"] = output.training_loss

    log_path = phase_dir / "spl.jsonl"
    log_path.unlink(missing_ok=True)
    logs = run_self_paced(examples, train_one_epoch, n_epochs=spl.epochs, difficulty=spl.difficulty,
                          score=score, q0=spl.q0, schedule=spl.schedule, scheme=spl.weighting,
                          log_path=log_path, final_full_epoch=spl.final_full_epoch)
    plot_spl(log_path, phase_dir / "spl.png")
    for entry in logs:
        console.print(f"[dim]SPL epoch {entry.epoch}: {entry.n_selected}/{entry.n_total} examples, "
                      f"mean difficulty {entry.mean_difficulty_selected:.3f}[/dim]")
    model_dir, adapter_dir = save_final(trained, model, tokenizer, spec, phase_dir, ctx.trust_remote_code)
    return TrainResult(model_dir, adapter_dir, time.time() - started, state["tokens"], len(examples),
                       state["loss"], state["steps"])
