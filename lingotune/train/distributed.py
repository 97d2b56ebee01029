"""Training steps in processes of their own: one fresh Python process (the default; LoRA on CPU: two
data-parallel ones, ``train/cpu_ranks.py``), or the processes ``accelerate launch`` starts (DDP, FSDP2,
DeepSpeed: whatever the config says).

``lingotune run`` runs everything but training once, in the calling process. A training step hands its
arguments to a job file and runs ``python -m lingotune.train.distributed JOB`` (``--launcher process``;
under ``torch.distributed.run`` for the CPU processes) or ``accelerate launch --config_file FILE -m
lingotune.train.distributed JOB`` (``--launcher accelerate``); ``--launcher inline`` trains in the calling
process (debuggers, tests).

Why a fresh process by default: training leaves the calling process's heap fragmented (glibc), and the
generation after it then ran 15-19 % slower than in a new process, with the same model (quickstart,
2 CPU cores: its evaluation after training took 84.4 s in the process that trained, 71.5 s in a new
one; ``torch.empty`` averaged 24 µs instead of 3.8 µs; ``malloc_trim``, ``gc.collect`` and
``gc.freeze`` did not help). The process that trained also kept ~650 MB resident. A new process costs
its imports (~7.5 s more per step on 2 CPU cores) and holds memory beside the caller's (the quickstart's
process tree peaked at 3.6 GB summed, against 3.2 GB in one process); it returns every byte and the GPU's
memory when it ends (``docs/measurements/issue11/training_process_2026-12-06.json``).

A run whose plan trains starts that process with the run (``WarmTrainingProcess``): it imports the
training stack (torch, transformers' Trainer, PEFT, datasets: ~4-5 s of one core) while the run loads
its recipe, checks its data and loads the model for the first evaluation, which use one core, and then
waits for the first training step's go-ahead on its standard input. Without it, those imports came after
the evaluation, on the critical path. Later training steps of the run start fresh processes.

Under accelerate every process builds and tokenises the same data, the Trainer (through accelerate)
shards the batches and averages the gradients, and only the main process writes checkpoints, the final
model and the result, which the caller then reads back. So a run on N GPUs differs from a run on one
only in this step; the configs shipped in ``configs/accelerate/`` are accelerate's own format, checked
by accelerate.
"""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from contextlib import contextmanager
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


LAUNCHERS = ("process", "inline", "accelerate")
LAUNCHER_ENV = "LINGOTUNE_LAUNCHER"  # the default launcher where none is given (tests set "inline")


def default_launcher() -> str:
    """``LINGOTUNE_LAUNCHER`` (process or inline; accelerate needs its config, so only ``--launcher``), or process."""
    chosen = os.environ.get(LAUNCHER_ENV, "process")
    if chosen not in ("process", "inline"):
        raise LingotuneError(f"{LAUNCHER_ENV}={chosen}: expected process or inline (accelerate is chosen with "
                             "--launcher accelerate --config FILE)")
    return chosen


# What a warm training process imports while it waits: the modules every training step loads.
WARM_MODULES = ("torch", "transformers.trainer", "transformers.training_args", "peft", "datasets",
                "lingotune.train.run", "lingotune.train.sft", "lingotune.train.negatives",
                "lingotune.train.label_loss", "lingotune.train.packing", "lingotune.train.twin_branches",
                "lingotune.train.callbacks", "lingotune.train.checkpointing", "lingotune.models.segment_attention")


class WarmTrainingProcess:
    """A training process (or the processes of ``train.cpu_ranks``) started before it is needed (module
    docstring) for the job that will be written to ``job_path``: ``run(job_path)`` starts that job and waits
    for it; ``close()`` ends it if it never got one. Use it once.

    The processes wait for end of file on the standard input they share (torchrun's workers inherit
    it): before closing it, ``run`` writes one byte per process, which each reads as its go-ahead. A run
    that ends, crashes or is killed first closes the pipe without them, and the processes exit."""

    def __init__(self, job_path: Path, ranks: int = 1) -> None:
        from lingotune.train.cpu_ranks import training_command

        self.job_path, self.ranks = job_path, ranks
        command, env = training_command(["--warm", str(job_path)], ranks)
        self._process: subprocess.Popen | None = subprocess.Popen(command, stdin=subprocess.PIPE, env=env)

    @property
    def available(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def takes(self, job_path: Path, ranks: int) -> bool:
        """Whether this is the job (and the number of processes) it was started for, and it still waits."""
        return self.available and job_path == self.job_path and ranks == self.ranks

    def run(self, job_path: Path) -> int:
        """The job's exit status, as ``subprocess.run`` would give it."""
        process, self._process = self._process, None
        assert process is not None and process.stdin is not None and job_path == self.job_path, \
            "a warm training process runs the one job it was started for"
        with stopped_on_exit(process):
            process.stdin.write(GO * self.ranks)
            process.stdin.close()
            return process.wait()

    def close(self) -> int | None:
        """Ends processes that got no job (the run stopped or never trained) at once, imports or not; the
        exit status (None when it ran a job)."""
        process, self._process = self._process, None
        if process is None:
            return None
        if process.stdin is not None:
            process.stdin.close()  # processes already waiting see end of file and exit
        if self.ranks > 1:  # torchrun answers SIGTERM with a traceback; its workers end with it (see below)
            process.kill()
        else:
            process.terminate()
        return process.wait()

    def __enter__(self) -> WarmTrainingProcess:
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


GO = b"g"  # one per waiting process (WarmTrainingProcess)
STOP_GRACE_S = 10.0
LAUNCHER_NAMES = (b"torch.distributed.run", b"torchrun", b"accelerate")  # what starts workers (their parent)


@contextmanager
def stopped_on_exit(process: subprocess.Popen):
    """Ctrl-C or an error while waiting: the training must not outlive the run. A launcher (torchrun,
    accelerate) gets SIGTERM first, which it passes on to its workers; killed outright it could not, and
    its workers, in sessions of their own, would train on (they also end with it: ``_end_with_launcher``)."""
    try:
        yield
    except BaseException:
        process.terminate()
        try:
            process.wait(STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        raise


def _end_with_launcher() -> None:
    """A worker of ``torch.distributed.run`` sits in a session of its own, out of reach of the terminal's
    Ctrl-C: have the kernel end it when its launcher dies, however that dies (Linux's PR_SET_PDEATHSIG;
    elsewhere the launcher's own shutdown is all there is)."""
    if "TORCHELASTIC_RUN_ID" not in os.environ or not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # 1: PR_SET_PDEATHSIG
    try:  # the launcher may have died before that: then the parent is whoever adopted this process
        parent = Path(f"/proc/{os.getppid()}/cmdline").read_bytes()
    except OSError:
        parent = b""
    if not any(name in parent for name in LAUNCHER_NAMES):
        os.kill(os.getpid(), signal.SIGTERM)


def launch_training(out_dir: Path, model, data, spec, ctx, *, accelerate_config: Path | None = None,
                    warm: WarmTrainingProcess | None = None, **kwargs):
    """``train_on(model, data, spec, ctx, out_dir, **kwargs)`` in a fresh process, in the CPU processes of
    ``train.cpu_ranks`` (``warm``'s, when it waits for this job), or in the processes ``accelerate_config``
    asks for; returns the main process's ``(TrainResult, dropped)`` and its peak resident memory (MB, None
    off Linux). The job and result files are lingotune's own, in the step's folder. A ``LingotuneError``
    raised there (a bad input found while building the data) is raised here again, message and all."""
    from lingotune.train.cpu_ranks import cpu_ranks, rank_spec, training_command

    out_dir.mkdir(parents=True, exist_ok=True)
    job_path, result_path = out_dir / JOB_FILE, out_dir / RESULT_FILE
    result_path.unlink(missing_ok=True)
    ranks = 1 if accelerate_config is not None else cpu_ranks(spec, kwargs.get("self_paced"),
                                                                kwargs.get("optimizer_state"))
    with job_path.open("wb") as handle:
        pickle.dump(TrainingJob((model, data, rank_spec(spec, ranks), ctx, out_dir), kwargs), handle)
    if accelerate_config is None:
        command, env = training_command([str(job_path)], ranks)
        where = "a process of its own" if ranks == 1 else f"{ranks} processes (torch.distributed.run)"
    else:
        command = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(accelerate_config),
                   "-m", "lingotune.train.distributed", str(job_path)]
        env = dict(os.environ)
        console.print(f"[dim]accelerate launch --config_file {accelerate_config} (training only)[/dim]")
        where = f"accelerate launch (config {accelerate_config})"
    if accelerate_config is None and warm is not None and warm.takes(job_path, ranks):
        returncode = warm.run(job_path)
    else:
        if warm is not None:
            warm.close()
        process = subprocess.Popen(command, env=env)
        with stopped_on_exit(process):
            returncode = process.wait()
    outcome = None
    if result_path.exists():
        with result_path.open("rb") as handle:
            outcome = pickle.load(handle)
    if isinstance(outcome, _Failed):
        raise outcome.error
    if returncode != 0 or outcome is None:
        raise LingotuneError(f"training in {where} failed (exit status {returncode}); its output is above")
    result, world_size, peak_mb = outcome
    if accelerate_config is not None:
        console.print(f"training ran in {world_size} processes under accelerate launch")
    elif world_size > 1:
        console.print(f"training ran in {world_size} data-parallel CPU processes ({CPU_RANKS_HINT})")
    return result, peak_mb


CPU_RANKS_HINT = "LINGOTUNE_CPU_RANKS=1: one process, less memory"


@dataclass
class _Failed:
    """What a launched process hands back instead of a result when it stopped on a ``LingotuneError``."""

    error: LingotuneError


def _main(job_path: str) -> int:
    from lingotune.core.peak_memory import peak_rss_mb
    from lingotune.train.run import train_on

    if not is_main_process():  # one copy of the data notes, progress and warnings: the main process's
        import warnings

        from transformers.utils import logging as transformers_logging

        console.quiet = True
        warnings.filterwarnings("ignore")
        transformers_logging.disable_progress_bar()
    with open(job_path, "rb") as handle:
        job: TrainingJob = pickle.load(handle)
    result_path = Path(job_path).parent / RESULT_FILE
    try:
        outcome = train_on(*job.args, **job.kwargs)
    except LingotuneError as error:  # the caller shows it as it would its own: no traceback from here
        if is_main_process():
            try:
                payload = pickle.dumps(_Failed(error))
            except Exception:  # an error type that does not pickle still carries its message back
                payload = pickle.dumps(_Failed(LingotuneError(str(error))))
            result_path.write_bytes(payload)
        # exit 0: the result file carries the error, and torchrun or accelerate would add a traceback of
        # their own for a failed process (the other processes, which met the same data, stop here too)
        return 0
    if is_main_process():
        with result_path.open("wb") as handle:
            pickle.dump((outcome, int(os.environ.get("WORLD_SIZE", "1")), peak_rss_mb()), handle)
    return 0


def _warm_main(job_path: str) -> int:
    """``--warm JOB``: import the training stack, then run JOB once this process's go-ahead byte arrives on
    standard input (end of file without it: the run ended without training)."""
    import importlib

    from lingotune.train.distributed import _main as main  # the importable module's, as below

    try:
        for module in WARM_MODULES:
            importlib.import_module(module)
        go = os.read(sys.stdin.fileno(), 1)  # unbuffered: a buffered read could take the other processes' bytes
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group; the run reports it
        return 130
    return main(job_path) if go == GO else 0


if __name__ == "__main__":
    _end_with_launcher()  # first: the launcher may die while the training stack imports
    if sys.argv[1] == "--warm":
        sys.exit(_warm_main(sys.argv[2]))
    # through the module's importable name: what _main pickles (_Failed) must not be __main__'s
    from lingotune.train.distributed import _main as main

    sys.exit(main(sys.argv[1]))
