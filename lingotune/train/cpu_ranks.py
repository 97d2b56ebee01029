"""LoRA training on CPU in two data-parallel processes (gloo) instead of one process with all the threads.

Measured on the 2-core reference VM (the quickstart's micro-batches, joined LoRA, bf16): 8 micro-batches
of 4 took 19.3-19.9 s in one thread and 13.6-14.6 s in two (1.4x: the per-op work between matmuls does
not thread), while two one-thread processes side by side took 18.7-19.9 s each, no slower than one alone:
twice the examples in the same time (``docs/measurements/issue11/cpu_ranks_2026-12-06.json``). The
quickstart's Trainer took 151.7 s under accelerate's two gloo processes against 182.4 s in one process.
The cost is memory: each process holds its own model, runtime and activations (the process tree's peak
~6.7 GB instead of ~3.9 GB), so ``LINGOTUNE_CPU_RANKS=1`` keeps one process, and so does a machine with
less than 4 GB available per process when the run starts, unless ``LINGOTUNE_CPU_RANKS`` says otherwise (a
guard, not a model of any recipe's memory: the quickstart's processes peak at ~3 GB each).

Only where it pays and stays the same training:
- LoRA (full fine-tuning would all-reduce every weight's gradient each step and keep a copy of the
  AdamW state per process);
- no GPU (one GPU trains in one process; several go through ``--launcher accelerate``);
- the global batch ``batch_size × grad_accum`` splits over the processes: ``grad_accum`` (each process
  keeps the micro-batch size, so its memory) or else ``batch_size``; each step then holds the same
  examples as in one process (``rank_padding.py``) and the losses agree up to float rounding;
- not self-paced phases (their per-example scoring passes run in one process) nor phases that carry an
  optimizer state over (not tested across processes).

The processes are started by PyTorch's own launcher (``torch.distributed.run``: torchrun, standalone
rendezvous on this machine), each with ``cores / processes`` threads.
"""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path

from lingotune.core.errors import LingotuneError
from lingotune.core.peak_memory import available_mb
from lingotune.core.progress import console
from lingotune.train.spec import SelfPacedSpec, TrainSpec

CPU_RANKS_ENV = "LINGOTUNE_CPU_RANKS"
DEFAULT_CPU_RANKS = 2
MIN_AVAILABLE_MB_PER_RANK = 4096


def usable_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def requested_ranks() -> int:
    """``LINGOTUNE_CPU_RANKS`` (processes for LoRA training on CPU; 1: one process), default 2."""
    raw = os.environ.get(CPU_RANKS_ENV, str(DEFAULT_CPU_RANKS))
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise LingotuneError(f"{CPU_RANKS_ENV}={raw}: expected a whole number of processes, 1 or more")
    return value


def cpu_ranks(spec: TrainSpec, self_paced: SelfPacedSpec | None = None, optimizer_state: Path | None = None) -> int:
    """How many processes train this step (module docstring): 1 unless every condition holds."""
    ranks = min(requested_ranks(), usable_cores())
    if ranks <= 1 or spec.method != "lora" or self_paced is not None or optimizer_state is not None:
        return 1
    if spec.grad_accum % ranks and spec.batch_size % ranks:
        return 1
    import torch

    if torch.cuda.is_available():
        return 1
    chosen = CPU_RANKS_ENV in os.environ  # the user's number stands; the guard is for the default
    return ranks if chosen or memory_allows(ranks) else 1


@functools.cache
def memory_allows(ranks: int) -> bool:
    """Whether the machine had ``MIN_AVAILABLE_MB_PER_RANK`` per process available when first asked (once
    per run: the run's warm processes and its training step must agree; unknown off Linux: allowed)."""
    available = available_mb()
    if available is None or available >= ranks * MIN_AVAILABLE_MB_PER_RANK:
        return True
    console.print(f"[yellow]{available / 1024:.1f} GB available: training in one process instead of {ranks} "
                  f"(each takes its own model and activations; {CPU_RANKS_ENV} sets the number)[/yellow]")
    return False


def rank_spec(spec: TrainSpec, ranks: int) -> TrainSpec:
    """Each process's share of the global batch: fewer accumulated micro-batches, else smaller ones."""
    if ranks <= 1:
        return spec
    if spec.grad_accum % ranks == 0:
        return spec.model_copy(update={"grad_accum": spec.grad_accum // ranks})
    return spec.model_copy(update={"batch_size": spec.batch_size // ranks})


TRAINING_MODULE = ("-m", "lingotune.train.distributed")


def training_command(args: list[str], ranks: int, program: tuple[str, ...] = TRAINING_MODULE,
                     ) -> tuple[list[str], dict[str, str]]:
    """The command and environment that run ``python PROGRAM ARGS`` (by default ``-m
    lingotune.train.distributed``; a script path also works) in ``ranks`` processes (one: a plain Python
    process)."""
    if ranks <= 1:
        return [sys.executable, *program, *args], dict(os.environ)
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, usable_cores() // ranks))}
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={ranks}",
            *program, *args], env
