"""Exact resume from a checkpoint: what transformers' ``Trainer`` (5.24) does not restore by itself.

Two gaps, both measured on the tiny recipe (28 examples after the length filter, batch 4: 7 steps per
epoch) and both closed here so that a resumed run repeats the uninterrupted one step by step:

1. **The shuffle of the interrupted epoch.** ``train_sampling_strategy="group_by_length"`` gives a
   ``LengthGroupedSampler`` without a generator: each epoch's order is ``torch.randperm`` on the *global*
   CPU RNG, drawn when the epoch's dataloader iterator starts. A checkpoint's ``rng_state.pth`` is the
   state at the checkpoint's step, not at the start of its epoch, and ``Trainer._run_epoch`` restores it
   only *after* ``skip_first_batches`` has drawn the order (``rng_to_sync``). So an epoch resumed in its
   middle is reshuffled from whatever state the new process has, and the skipped batches are not the ones
   that were trained: killed after checkpoint-20 (epoch 3, step 6 of 7), step 21 trained on a different
   batch (loss 5.8399 instead of 5.8236) and every later step drifted (step 60: 6e-4). In the first epoch
   the fresh process's state happens to be the right one, which is why a kill at checkpoint-4 resumed
   exactly. :class:`EpochStartRng` stores the RNG state at the start of each epoch in the checkpoint (as
   Trainer callback state, so it is written inside ``trainer_state.json``, the file that marks a
   checkpoint complete) and puts it back before the resumed epoch is shuffled. Uninterrupted runs are
   unchanged: the callback only reads the RNG there.

2. **A run that has already finished.** ``Trainer.train`` takes at least one optimizer step before it
   checks ``global_step >= max_steps`` (``DefaultFlowCallback.on_step_end``); resumed from checkpoint-12 of
   a 12-step run whose last epoch is partial, it trained step 13, wrote checkpoint-13 and a final model that
   differs from the finished run's (with ``lr_scheduler=constant``; the default cosine schedule is at LR 0
   there, which hid the change in the weights but not in the optimizer state, metrics or checkpoints). When
   max_steps ends an epoch the Trainer's loop over the remaining epochs is empty and nothing happens, so the
   fault depends on the numbers. :func:`training_finished` tells ``train_sft`` not to call ``train()``.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

from transformers import TrainerCallback
from transformers.trainer_callback import ExportableState

from lingotune.core.progress import console

TRAINER_STATE = "trainer_state.json"


def checkpoint_state(checkpoint: Path) -> dict[str, Any]:
    """The checkpoint's ``trainer_state.json`` (global_step, epoch, log_history, stateful_callbacks, …)."""
    return json.loads((checkpoint / TRAINER_STATE).read_text())


def planned_steps(trainer) -> int:
    """The number of optimizer steps ``trainer.train()`` aims for (``max_steps``, or epochs × steps per epoch),
    by the Trainer's own arithmetic on its own training dataloader (nothing is drawn from any RNG)."""
    return int(trainer.set_initial_training_values(trainer.args, trainer.get_train_dataloader())[-1])


def training_finished(trainer, checkpoint: Path) -> bool:
    """True when ``checkpoint`` is already at (or past) the step the Trainer would train to: resuming from it
    must not call ``train()``, which would take one more step before noticing (module docstring, 2)."""
    return int(checkpoint_state(checkpoint)["global_step"]) >= planned_steps(trainer)


def whole_run_loss(log_history: list[dict[str, Any]]) -> float | None:
    """Mean training loss over the run's logged steps, from the logged losses (each the mean over the steps
    since the previous log, so weighted by that span).

    ``TrainOutput.training_loss`` of a resumed ``train()`` averages only the steps of that call; this is the
    number an uninterrupted run reports, up to float rounding, when every step is logged (lingotune's default
    ``logging_steps=1``; with more, steps after the last log are missing from it)."""
    total, steps, previous = 0.0, 0, 0
    for record in sorted((r for r in log_history if "loss" in r and "step" in r), key=lambda r: r["step"]):
        span = int(record["step"]) - previous
        if span <= 0:
            continue
        total += float(record["loss"]) * span
        steps += span
        previous = int(record["step"])
    return total / steps if steps else None


def _encode(state) -> str:
    return base64.b64encode(state.numpy().tobytes()).decode("ascii")


def _decode(text: str):
    import torch

    return torch.frombuffer(bytearray(base64.b64decode(text)), dtype=torch.uint8).clone()


class EpochStartRng(TrainerCallback, ExportableState):
    """Keeps the global CPU RNG state at the start of the current epoch in each checkpoint, and restores it
    when a run resumes inside that epoch, so the resumed epoch is shuffled as it was (module docstring, 1).

    ``epoch`` and ``rng_state`` come from the checkpoint being resumed (:meth:`from_checkpoint`); the
    Trainer saves :meth:`state` into every ``trainer_state.json`` (``ExportableState``). The Trainer's own
    restoring of callback state is left off (``restore_callback_states_from_checkpoint``), so
    ``from_checkpoint`` reads it.
    """

    def __init__(self, epoch: int | None = None, rng_state: str | None = None,
                 checkpoint: Path | None = None) -> None:
        self.epoch, self.rng_state = epoch, rng_state
        self.checkpoint = checkpoint

    @classmethod
    def from_checkpoint(cls, checkpoint: Path | None) -> EpochStartRng:
        if checkpoint is None:
            return cls()
        saved = checkpoint_state(checkpoint).get("stateful_callbacks", {}).get(cls.__name__, {})
        attributes = saved.get("attributes", {}) if isinstance(saved, dict) else {}
        return cls(attributes.get("epoch"), attributes.get("rng_state"), checkpoint)

    def state(self) -> dict[str, Any]:
        return {"args": {}, "attributes": {"epoch": self.epoch, "rng_state": self.rng_state}}

    def on_train_begin(self, args, state, control, **kwargs):
        # A checkpoint written before this callback existed has no entry for it, and
        # Trainer._save_checkpoint indexes stateful_callbacks by class name (KeyError): add one.
        state.stateful_callbacks.setdefault(type(self).__name__, self.state())

    def on_epoch_begin(self, args, state, control, **kwargs):
        import torch

        # The Trainer's epoch index: state.epoch is epoch + steps done / steps per epoch, < epoch + 1 mid-epoch.
        epoch = int(state.epoch or 0)
        if self.checkpoint is not None:  # first epoch of a resumed run
            checkpoint, self.checkpoint = self.checkpoint, None
            if self.rng_state is None:
                console.print(f"[yellow]{checkpoint.name} has no epoch-start RNG state (written before lingotune "
                              "kept it): a run resumed inside an epoch is shuffled differently[/yellow]")
            elif epoch == self.epoch:
                # Resumed inside the epoch whose start state we kept: shuffle it from that state. The
                # Trainer restores the checkpoint's own RNG state after the shuffle (Trainer._run_epoch).
                torch.random.set_rng_state(_decode(self.rng_state))
                return
            # Resumed at an epoch boundary: the Trainer restores the checkpoint's RNG state before this
            # epoch's shuffle; set it now so the state kept for this epoch is that one and not the new
            # process's (a second kill later in this epoch would otherwise resume from a wrong shuffle).
            rng = _checkpoint_cpu_rng(checkpoint)
            if rng is not None:
                torch.random.set_rng_state(rng)
        self.epoch, self.rng_state = epoch, _encode(torch.random.get_rng_state())


def _checkpoint_cpu_rng(checkpoint: Path):
    """The CPU RNG state in the checkpoint's ``rng_state.pth`` (None without one)."""
    import torch
    from transformers.trainer_pt_utils import safe_globals

    path = checkpoint / "rng_state.pth"
    if not path.is_file():
        return None
    with safe_globals():
        return torch.load(path, weights_only=True)["cpu"]
