"""Supervised fine-tuning (full or LoRA) with transformers' Trainer.

Why not TRL's SFTTrainer: with the same model, data, LoRA config and ``bf16=True`` on 2 CPU cores,
SFTTrainer took ~60 s per step of 8×240 tokens and plain Trainer 3.7 s (an early measurement; the side-by-side
benchmark is benchmarks/train_throughput.py: 3.8× TRL defaults in real tokens/s. SFTTrainer's
extra per-step work, e.g. entropy and token accuracy over the 49k-token vocabulary, dominates on
CPU). What SFTTrainer would add beyond Trainer is the tokenisation with assistant masks, which
lingotune does itself anyway (``tokenize.py``) because released chat templates lack generation tags.

What lingotune adds: the frozen base in bf16 with fp32 LoRA weights under bf16 autocast (without
autocast the mixed-dtype step is ~15x slower), packed rows with logits at target positions only
(``packing.py``, ``label_loss.py``; padded, length-grouped rows with ``train.packing: false``), checkpoints
in the run folder that a killed run resumes from, and a metrics JSONL.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

from lingotune.core.layout import checkpoints, trained_model
from lingotune.core.progress import console
from lingotune.models.loading import resolve_dtype
from lingotune.models.sources import ResolvedModel
from lingotune.train.callbacks import MetricsJsonl, RichProgress
from lingotune.train.result import TrainResult
from lingotune.train.resume import EpochStartRng, checkpoint_state, training_finished, whole_run_loss
from lingotune.train.spec import TrainSpec
from lingotune.train.tokenize import TokenizedExample


def last_checkpoint(checkpoint_dir: Path) -> Path | None:
    """The newest *complete* checkpoint: the Trainer writes trainer_state.json last, but not atomically (it
    opens the file, then writes it), so a kill can leave it empty or cut short: it must parse."""
    if not checkpoint_dir.exists():
        return None
    done = [p for p in checkpoint_dir.glob("checkpoint-*") if _complete(p)]
    return max(done, key=lambda p: int(p.name.split("-")[1]), default=None)


def _complete(checkpoint: Path) -> bool:
    try:
        return "global_step" in checkpoint_state(checkpoint)
    except (OSError, ValueError):  # missing, or an unfinished write (json.JSONDecodeError is a ValueError)
        return False


def _load_for_training(model: ResolvedModel, spec: TrainSpec, trust_remote_code: bool):
    import torch
    from transformers import AutoModelForCausalLM

    dtype = resolve_dtype(spec.dtype)
    if spec.method == "full" and dtype != torch.float32 and not torch.cuda.is_available():
        dtype = torch.float32  # full updates in bf16 weights lose small steps; autocast keeps bf16 speed
    loaded = AutoModelForCausalLM.from_pretrained(
        model.path, dtype=dtype, trust_remote_code=trust_remote_code, use_safetensors=True
    )
    if spec.method == "lora":
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(
            r=spec.lora.r,
            lora_alpha=spec.lora.alpha,
            lora_dropout=spec.lora.dropout,
            target_modules=spec.lora.target_modules,
            task_type="CAUSAL_LM",
        )
        loaded = get_peft_model(loaded, lora)  # adapter weights are created in fp32 (autocast_adapter_dtype)
    return loaded


def _dataset(examples: list[TokenizedExample], pad_rows: int = 0, pad_token_id: int = 0):
    """The Trainer's dataset; ``pad_rows`` rows without targets at its end (train/rank_padding.py)."""
    from datasets import Dataset

    columns = {"input_ids": [e.input_ids for e in examples], "labels": [e.labels for e in examples]}
    if any(e.branch is not None for e in examples):  # twin branches (train/twin_branches.py)
        columns.update(branch_ids=[e.branch.input_ids if e.branch else [] for e in examples],
                       branch_labels=[e.branch.labels if e.branch else [] for e in examples],
                       branch_start=[e.branch.start if e.branch else -1 for e in examples])
    if pad_rows:
        from lingotune.train.rank_padding import pad_row

        row = pad_row(pad_token_id, list(columns))
        for name, values in columns.items():
            values.extend([row[name]] * pad_rows)
    return Dataset.from_dict(columns)


def epoch_tokens(dataset, pad_rows: int = 0) -> int:
    """Tokens an epoch computes: a twin branch's own, not the prompt it shares; not the last ``pad_rows``
    rows (train/rank_padding.py)."""
    from lingotune.train.packing import row_tokens

    return sum(row_tokens(dataset)[:len(dataset) - pad_rows])


def grouped_batches(spec: TrainSpec) -> bool:
    return spec.group_by_length if spec.group_by_length is not None else not spec.packing


def training_arguments(spec: TrainSpec, checkpoint_dir: Path, seed: int, **overrides):
    """lingotune's Trainer settings for a TrainSpec (shared by plain and self-paced training)."""
    import torch
    from transformers import TrainingArguments

    settings = dict(
        output_dir=str(checkpoint_dir),
        per_device_train_batch_size=spec.batch_size,
        gradient_accumulation_steps=spec.grad_accum,
        learning_rate=spec.learning_rate,
        num_train_epochs=spec.epochs,
        max_steps=spec.max_steps,
        lr_scheduler_type=spec.lr_scheduler,
        warmup_steps=spec.warmup_ratio,  # transformers 5: a float in [0, 1) is a ratio of total steps
        weight_decay=spec.weight_decay,
        logging_steps=spec.logging_steps,
        save_strategy="steps",
        save_steps=spec.save_steps,
        save_total_limit=spec.save_total_limit,
        seed=seed,
        data_seed=seed,
        report_to=spec.report_to,
        bf16=resolve_dtype(spec.dtype) == torch.bfloat16,
        use_cpu=not torch.cuda.is_available(),
        train_sampling_strategy="group_by_length" if grouped_batches(spec) else "random",
        disable_tqdm=True,
        dataloader_num_workers=0,
        save_only_model=False,
        torch_compile=spec.compile,
        # several processes (DDP): every LoRA weight takes part in every forward, so DDP need not search
        # the graph for unused ones each step (the Trainer's default for a PEFT model searches)
        ddp_find_unused_parameters=False if spec.method == "lora" else None,
    )
    # transformers 5.x renamed gradient_checkpointing (now a deprecated alias that warns on every run)
    checkpointing = ("activation_checkpointing" if "activation_checkpointing" in TrainingArguments.__dataclass_fields__
                     else "gradient_checkpointing")
    settings[checkpointing] = spec.gradient_checkpointing
    settings.update(overrides)
    return TrainingArguments(**settings)


def prepare_trainable(model: ResolvedModel, spec: TrainSpec, seed: int, trust_remote_code: bool):
    """The model ready to train: seeded before the LoRA weights are drawn (the Trainer seeds only after
    the model exists, which made two identical runs differ), adapters attached, freeze applied."""
    from transformers import set_seed

    set_seed(seed)
    trained = _load_for_training(model, spec, trust_remote_code)
    if spec.freeze is not None:
        from lingotune.train.freeze import apply_freeze

        frozen = apply_freeze(trained, spec.freeze)
        console.print(f"Frozen {len(frozen)} parameters ({spec.freeze.describe()})")
    if spec.packing and not spec.compile:  # per-example attention on CPU (a Python loop: not for compile)
        from lingotune.models.segment_attention import use_segment_attention

        use_segment_attention(trained)
    if spec.checkpoint_above_tokens is not None:
        from lingotune.train.checkpointing import checkpoint_long_batches

        checkpoint_long_batches(trained, spec.checkpoint_above_tokens)
    return trained


def train_sft(
    model: ResolvedModel,
    tokenizer,
    examples: list[TokenizedExample],
    spec: TrainSpec,
    run_dir: Path,
    *,
    seed: int = 0,
    trust_remote_code: bool = False,
    phase: str | None = None,
    metrics_path: Path | None = None,
    step_offset: int = 0,
    optimizer_state: Path | None = None,
    save_optimizer_state: bool = False,
) -> TrainResult:
    """Train and save under ``run_dir`` (checkpoints/, model/, adapter/); log to ``metrics_path``
    (default ``run_dir/metrics.jsonl``) with steps shifted by ``step_offset`` (phases).

    ``optimizer_state``: continue from a previous phase's AdamW moments instead of a fresh optimizer
    (full fine-tuning only: the parameters are the same tensors in the same order); the learning rate
    is reset to this phase's. ``save_optimizer_state`` writes ``optimizer.pt`` for the next phase.

    ``spec.resume``: continue from the newest complete checkpoint, step for step as if never interrupted
    (``lingotune.train.resume``); if that checkpoint is already the last step, nothing is trained
    (``TrainResult.already_trained``)."""
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    checkpoint_dir = checkpoints(run_dir)
    resume_from = last_checkpoint(checkpoint_dir) if spec.resume else None
    if resume_from:
        console.print(f"Resuming from {resume_from}")
    trained = prepare_trainable(model, spec, seed, trust_remote_code)
    callbacks = [
        MetricsJsonl(metrics_path or run_dir / "metrics.jsonl", phase,
                     int(resume_from.name.split("-")[1]) if resume_from else 0, step_offset),
        RichProgress(f"Training {phase}" if phase else "Training"),
        EpochStartRng.from_checkpoint(resume_from),  # the resumed epoch's shuffle (train/resume.py, 1)
    ]
    trainer = make_trainer(trained, tokenizer, examples, training_arguments(spec, checkpoint_dir, seed), callbacks,
                           spec.packing, spec.unlikelihood.weight if spec.unlikelihood else 0.0,
                           spec.trim_memory_every, spec.trim_memory_above_mb)
    tokens_per_epoch = epoch_tokens(trainer.train_dataset, trainer.pad_rows)
    if resume_from is not None and training_finished(trainer, resume_from):
        # Trainer.train() would take one step past max_steps before it stops (train/resume.py, 2)
        return _finished_training(trainer, resume_from, model, tokenizer, spec, run_dir, trust_remote_code,
                                  tokens_per_epoch, len(examples), save_optimizer_state)
    if optimizer_state is not None and resume_from is None:
        _carry_optimizer(trainer, optimizer_state, spec.learning_rate)
    started = time.time()
    output = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    elapsed = time.time() - started
    tokens = round((trainer.state.epoch or 0.0) * tokens_per_epoch)
    final_loss = output.training_loss
    if resume_from is not None:  # the Trainer's training_loss averages only the steps taken after the resume
        final_loss = whole_run_loss(trainer.state.log_history)
    if save_optimizer_state and trainer.is_world_process_zero():
        import torch

        torch.save(trainer.optimizer.state_dict(), run_dir / "optimizer.pt")
    model_dir, adapter_dir = save_final(trainer.model, model, tokenizer, spec, run_dir, trust_remote_code, trainer)
    if trainer.is_world_process_zero():  # under accelerate launch, only the main process writes the run folder
        _write_train_result(run_dir, {**output.metrics, "train_loss": final_loss}, output.global_step)
    return TrainResult(model_dir, adapter_dir, elapsed, tokens, len(examples), final_loss, output.global_step)


def make_trainer(trained, tokenizer, examples: list[TokenizedExample], args, callbacks: list, packing: bool,
                 unlikelihood_weight: float = 0.0, trim_memory_every: int = 1,
                 trim_memory_above_mb: float | None = None):
    """lingotune's Trainer on tokenised examples (also what benchmarks/train_throughput.py times).

    Packed for per-example attention on CPU, negative twins ride along their examples as branches
    (``train/twin_branches.py``); flash attention's varlen kernels cannot branch, so there they stay apart."""
    from transformers.trainer_callback import PrinterCallback

    from lingotune.models.segment_attention import uses_segment_attention
    from lingotune.train.callbacks import step_callbacks
    from lingotune.train.packing import LabelLossTrainer, training_collator
    from lingotune.train.rank_padding import pad_rows_needed

    if packing and uses_segment_attention(trained) and any(e.negative for e in examples):
        from lingotune.train.twin_branches import attach_twins

        examples = attach_twins(examples)
    # several processes: the epoch ends in rows without targets, not in repeated examples (rank_padding.py)
    pads = pad_rows_needed(len(examples), args.per_device_train_batch_size, args.world_size)
    trainer = LabelLossTrainer(model=trained, args=args,
                               train_dataset=_dataset(examples, pads, tokenizer.pad_token_id or 0),
                               callbacks=[*callbacks, *step_callbacks(trim_memory_every, trim_memory_above_mb)],
                               data_collator=training_collator(tokenizer, trained, packing),
                               unlikelihood_weight=unlikelihood_weight, pad_rows=pads)
    trainer.remove_callback(PrinterCallback)  # RichProgress and metrics.jsonl replace the dict printouts
    return trainer


def _write_train_result(run_dir: Path, metrics: dict[str, Any], global_step: int) -> None:
    """``train_result.json``, written after the final model: with ``global_step`` it says which checkpoint's
    training the model in ``run_dir/model`` is the end of (a resumed finished run reuses it)."""
    (run_dir / "train_result.json").write_text(json.dumps({**metrics, "global_step": global_step}, indent=2))


def _finished_training(trainer, checkpoint: Path, base: ResolvedModel, tokenizer, spec: TrainSpec, run_dir: Path,
                       trust_remote_code: bool, tokens_per_epoch: int, n_examples: int,
                       save_optimizer_state: bool) -> TrainResult:
    """Resumed at the last step: reuse the final model the finished run wrote, or, killed before it was
    written, write it from the checkpoint (the same weights; the Trainer's own checkpoint loading)."""
    state = checkpoint_state(checkpoint)
    step = int(state["global_step"])
    tokens = round(float(state.get("epoch") or 0.0) * tokens_per_epoch)
    recorded_path = run_dir / "train_result.json"
    recorded = json.loads(recorded_path.read_text()) if recorded_path.exists() else {}
    model_dir = trained_model(run_dir)
    adapter_dir = run_dir / "adapter" if spec.method == "lora" else None
    if recorded.get("global_step") == step:
        console.print(f"Training had finished (step {step}); reusing the final model in {model_dir}")
        final_loss = recorded.get("train_loss")
    else:
        console.print(f"Training had finished (step {step}) but the final model was not written; "
                      f"writing it from {checkpoint.name}")
        trainer._load_from_checkpoint(str(checkpoint))  # what train(resume_from_checkpoint=...) does first
        if save_optimizer_state:  # the optimizer does not change after the last step's checkpoint
            shutil.copyfile(checkpoint / "optimizer.pt", run_dir / "optimizer.pt")
        model_dir, adapter_dir = save_final(trainer.model, base, tokenizer, spec, run_dir, trust_remote_code)
        final_loss = whole_run_loss(state.get("log_history", []))
        _write_train_result(run_dir, {"train_loss": final_loss, "epoch": state.get("epoch"),
                                      "total_flos": state.get("total_flos")}, step)
    return TrainResult(model_dir, adapter_dir, 0.0, tokens, n_examples, final_loss, step, already_trained=True)


def _carry_optimizer(trainer, state_path: Path, learning_rate: float) -> None:
    """Create the Trainer's own optimizer now (so its parameter groups match) and load the saved moments.

    The Trainer keeps an optimizer that exists before ``train()``; the loaded learning rate (the end
    of the previous schedule) is replaced by this phase's, and the scheduler starts afresh.
    """
    import torch

    optimizer = trainer.create_optimizer()
    optimizer.load_state_dict(torch.load(state_path, weights_only=True))
    for group in optimizer.param_groups:
        group["lr"] = learning_rate
        group.pop("initial_lr", None)
    console.print(f"[dim]optimizer state carried over from {state_path}[/dim]")


def save_final(trained, base: ResolvedModel, tokenizer, spec: TrainSpec, run_dir: Path, trust_remote_code: bool,
               trainer=None):
    """Write the final model as plain safetensors any transformers user can load.

    LoRA: the adapter is saved as is, then merged into a float32 copy of the base (merging into the
    bf16 training copy would round the base weights). Under several processes (``trainer`` given,
    world size > 1) the Trainer's own ``save_model`` writes the adapter or model: with FSDP or ZeRO-3 it
    gathers the shards, a step every process must take; the main process alone then merges and writes.
    """
    import torch
    from transformers import AutoModelForCausalLM

    model_dir = trained_model(run_dir)
    adapter_dir = run_dir / "adapter" if spec.method == "lora" else None
    if trainer is not None and trainer.args.world_size > 1:
        trainer.save_model(str(adapter_dir or model_dir))  # every process: FSDP / ZeRO-3 gather their shards
        if not trainer.is_world_process_zero():
            return model_dir, adapter_dir
    elif adapter_dir is not None:
        trained.save_pretrained(adapter_dir)
    else:
        trained.save_pretrained(model_dir, safe_serialization=True)
    if adapter_dir is not None:
        from peft import PeftModel

        tokenizer.save_pretrained(adapter_dir)
        base_model = AutoModelForCausalLM.from_pretrained(
            base.path, dtype=torch.float32, trust_remote_code=trust_remote_code, use_safetensors=True
        )
        merged = PeftModel.from_pretrained(base_model, adapter_dir).merge_and_unload()
        merged.save_pretrained(model_dir, safe_serialization=True)
    tokenizer.save_pretrained(model_dir)
    return model_dir, adapter_dir
