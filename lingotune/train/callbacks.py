"""Trainer callbacks: a metrics JSONL that survives crashes and resumes, a rich progress bar, and the
memory and dtype settings that hold only while the Trainer trains."""

from __future__ import annotations

import json
from contextlib import ExitStack
from pathlib import Path

from transformers import TrainerCallback

from lingotune.core.context import is_main_process
from lingotune.core.peak_memory import rss_mb, trim_heap
from lingotune.core.progress import progress_bar

LOGGED_KEYS = ("loss", "learning_rate", "grad_norm", "epoch", "train_runtime", "train_loss")


class MetricsJsonl(TrainerCallback):
    """Appends one line per logging step, flushed at once so a kill loses nothing logged.

    Phases share one file: each phase's steps are shifted by ``step_offset`` (the steps of the
    phases before it) so the loss curve runs on across phases. On (re)start of a phase, its lines
    past the checkpoint it resumes from are dropped first: that part is about to be redone.
    """

    def __init__(self, path: Path, phase: str | None = None, resume_step: int = 0, step_offset: int = 0) -> None:
        self.path, self.phase, self.step_offset = path, phase, step_offset
        if path.exists() and is_main_process():  # launched processes: the main one writes
            kept = []
            for line in path.read_text().splitlines():
                if not line.strip():
                    continue
                record = json.loads(line)
                other_phase = record.get("phase") != phase
                if other_phase or record.get("step", 0) <= step_offset + resume_step:
                    kept.append(line)
            path.write_text("".join(line + "\n" for line in kept))

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        record = {"step": self.step_offset + state.global_step}
        record.update({k: float(v) for k, v in logs.items() if k in LOGGED_KEYS})
        if self.phase:
            record["phase"] = self.phase
        with self.path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")


class RichProgress(TrainerCallback):
    """Replaces the Trainer's tqdm bar with the same rich bar every other lingotune step uses."""

    def __init__(self, description: str = "Training") -> None:
        self.description = description
        self.bar = None
        self.task = None
        self.last_loss: float | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            self.bar = progress_bar()
            self.bar.start()
            self.task = self.bar.add_task(self.description, total=state.max_steps, completed=state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.bar is not None and logs and "loss" in logs:
            self.last_loss = float(logs["loss"])
            self.bar.update(self.task, description=f"{self.description} (loss {self.last_loss:.3f})")

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.update(self.task, completed=state.global_step)

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


class TrimHeap(TrainerCallback):
    """Hands the C heap's freed pages back to the kernel every ``every`` steps (``train.trim_memory_every``,
    ``core.peak_memory.trim_heap``), and between the micro-batches of those steps (gradient accumulation):
    each packed batch has its own shapes, and without it the freed activations of earlier steps, or of
    the step's first micro-batch, stay resident under the next one. The price: trimmed pages are faulted
    in again by the next steps (measured, benchmarks/README.md). With ``above_mb``
    (``train.trim_memory_above_mb``) only while resident memory is above it."""

    def __init__(self, every: int = 1, above_mb: float | None = None) -> None:
        self.every, self.above_mb = every, above_mb

    def on_step_end(self, args, state, control, **kwargs):
        self._trim_in(state.global_step)

    def on_substep_end(self, args, state, control, **kwargs):
        self._trim_in(state.global_step + 1)  # global_step counts finished steps: this is inside the next one

    def _trim_in(self, step: int) -> None:
        if self.every and step % self.every == 0 and (self.above_mb is None or (rss_mb() or 0.0) > self.above_mb):
            trim_heap()


class SkipAdapterInputCasts(TrainerCallback):
    """While a Trainer trains under autocast, PEFT no longer casts each LoRA layer's input to the
    adapter's float32. PEFT casts the bf16 activation to float32, and autocast casts it back to bf16
    for the matmul: two copies of the input per layer in the forward and two in the backward, for the
    same numbers (bf16 → float32 → bf16 is exact). 10 quickstart steps took 46.2 / 45.4 s instead of
    49.8 / 50.2 s, at a 280-350 MB lower peak (benchmarks/README.md). PEFT's own
    ``disable_input_dtype_casting`` is entered when training begins and left when it ends, which puts
    each layer's setting back as it was: outside autocast a bf16 input needs the casts to meet float32
    adapter weights."""

    def __init__(self) -> None:
        self._casts_off = ExitStack()

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if (args.bf16 or args.fp16) and model is not None:
            from peft.helpers import disable_input_dtype_casting

            self._casts_off.enter_context(disable_input_dtype_casting(model))

    def on_train_end(self, args, state, control, **kwargs):
        self._casts_off.close()


class JoinLoRALayers(TrainerCallback):
    """While a Trainer trains on CPU, each plain LoRA layer runs as one matmul with its frozen weight
    (``train/joined_lora.py``): the quickstart's micro-batches took 0.959× as long, paired. When training
    ends the layers are PEFT's again, with contiguous weights, for merging and saving."""

    def __init__(self) -> None:
        self._model = None

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        from lingotune.train.joined_lora import join_lora_layers

        if model is not None and join_lora_layers(model):
            self._model = model

    def on_train_end(self, args, state, control, **kwargs):
        from lingotune.train.joined_lora import split_lora_layers

        if self._model is not None:
            split_lora_layers(self._model)
            self._model = None


def step_callbacks(trim_memory_every: int = 1, trim_memory_above_mb: float | None = None) -> list[TrainerCallback]:
    """The callbacks every lingotune Trainer runs with (``sft.make_trainer`` and the self-paced phases):
    the heap trimming of ``train.trim_memory_every`` / ``train.trim_memory_above_mb``, the LoRA input
    casts skipped under autocast, and LoRA layers joined with their weights on CPU."""
    return [TrimHeap(trim_memory_every, trim_memory_above_mb), SkipAdapterInputCasts(), JoinLoRALayers()]
