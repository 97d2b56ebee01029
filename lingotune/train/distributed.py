"""Training steps under ``accelerate launch`` (DDP, FSDP2, DeepSpeed: whatever the config says).

``lingotune run RECIPE --launcher accelerate --config FILE`` runs everything but training once, in the
calling process. A training step hands its arguments to ``accelerate launch --config_file FILE -m
lingotune.train.distributed JOB`` instead: every process builds and tokenises the same data, the
Trainer (through accelerate) shards the batches and averages the gradients, and only the main process
writes checkpoints, the final model and the result, which the caller then reads back. So a run on N GPUs
differs from a run on one only in this step; the configs shipped in ``configs/accelerate/`` are
accelerate's own format, checked by accelerate.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lingotune.core.context import is_main_process
from lingotune.core.errors import LingotuneError
from lingotune.core.progress import console

JOB_FILE = "launch_job.pkl"
RESULT_FILE = "launch_result.pkl"


@dataclass
class TrainingJob:
    """``train_on``'s arguments, written by the caller and read by every launched process."""

    args: tuple
    kwargs: dict[str, Any] = field(default_factory=dict)


def launch_training(config: Path, out_dir: Path, *args, **kwargs):
    """``train_on(*args, **kwargs)`` in the processes ``config`` asks for; returns the main process's
    ``(TrainResult, dropped)``. The job and result files are lingotune's own, in the step's folder."""
    out_dir.mkdir(parents=True, exist_ok=True)
    job_path, result_path = out_dir / JOB_FILE, out_dir / RESULT_FILE
    result_path.unlink(missing_ok=True)
    with job_path.open("wb") as handle:
        pickle.dump(TrainingJob((*args, out_dir), kwargs), handle)
    command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config),
               "-m", "lingotune.train.distributed", str(job_path)]
    console.print(f"[dim]accelerate launch --config_file {config} (training only)[/dim]")
    completed = subprocess.run(command)
    if completed.returncode != 0 or not result_path.exists():
        raise LingotuneError(f"training under accelerate launch failed (exit status {completed.returncode}); "
                             f"its output is above; config {config}")
    with result_path.open("rb") as handle:
        outcome, world_size = pickle.load(handle)
    console.print(f"training ran in {world_size} processes under accelerate launch")
    return outcome


def _main(job_path: str) -> None:
    from lingotune.train.run import train_on

    with open(job_path, "rb") as handle:
        job: TrainingJob = pickle.load(handle)
    outcome = train_on(*job.args, **job.kwargs)
    if is_main_process():
        with (Path(job_path).parent / RESULT_FILE).open("wb") as handle:
            pickle.dump((outcome, int(os.environ.get("WORLD_SIZE", "1"))), handle)


if __name__ == "__main__":
    _main(sys.argv[1])
