"""What a training step hands back. Its own small module so that a run reading it back from a training
process (``train/distributed.py``) does not import the trainer (transformers' Trainer, PEFT: seconds)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass
class TrainResult:
    model_dir: Path
    adapter_dir: Path | None
    train_time_s: float
    train_tokens: int
    train_examples: int
    final_loss: float | None
    steps: int = 0
    # True when the newest checkpoint was already at the last step: no step was taken and the final model
    # was reused (or, if the run was killed before writing it, written from that checkpoint). The run's
    # time, tokens and examples were then already counted by whoever recorded the finished training.
    already_trained: bool = False
