"""``lingotune run --launcher accelerate|process``: training in processes of its own, the rest once.

Two CPU processes with the gloo backend and 2 examples each must follow the loss trajectory of one
process with 4 (the same global batch: shuffled batches, not length-grouped, so both see the same
examples per step), and only the main process may write the run folder. Training in one fresh process
(``LINGOTUNE_CPU_RANKS=1``) must give the inline run's losses exactly, and a user error raised there must
reach the user as an inline one would. The default on CPU, LoRA in two data-parallel processes
(``train/cpu_ranks.py``), must give the inline losses over a whole epoch whose last micro-batch is partial
and whose micro-batch count is odd (rows without targets even it out: ``train/rank_padding.py``).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
import yaml

from tests.test_run_tiny import REPO, TINY, lingotune, losses

CPU_2PROC = REPO / "configs" / "accelerate" / "cpu_2proc.yaml"
SHIPPED = sorted((REPO / "configs" / "accelerate").glob("*.yaml"))
COMMON = ["train.group_by_length=false", "train.max_steps=4", "train.save_steps=100"]


def _run(run_dir: Path, *args: str, env: dict | None = None):
    done = lingotune("run", str(TINY), f"output_dir={run_dir}", *COMMON, *args, env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-4000:]
    return done


@pytest.fixture(scope="module")
def runs(tmp_path_factory, tiny_model):
    root = tmp_path_factory.mktemp("dist")
    single = _run(root / "single", "train.batch_size=4")
    launched = _run(root / "two", "train.batch_size=2", "--launcher", "accelerate", "--config", str(CPU_2PROC))
    _run(root / "process", "train.batch_size=4", "--launcher", "process", env={"LINGOTUNE_CPU_RANKS": "1"})
    return root / "single", root / "two", single, launched


EPOCH = ["train.max_steps=-1", "train.epochs=1", "train.batch_size=3", "train.grad_accum=2", "train.save_steps=100"]


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="two training processes need two cores")
def test_two_cpu_processes_by_default_give_the_inline_losses_over_a_whole_epoch(tmp_path, tiny_model):
    # 28 examples fit: 10 micro-batches of 3, the last holding 1; each process accumulates 1 of 3 per step
    inline = lingotune("run", str(TINY), f"output_dir={tmp_path / 'inline'}", *EPOCH, "--launcher", "inline")
    assert inline.returncode == 0, inline.stderr[-3000:]
    ranks = lingotune("run", str(TINY), f"output_dir={tmp_path / 'ranks'}", *EPOCH, "--launcher", "process",
                      env={"LINGOTUNE_CPU_RANKS": "2"})  # whatever memory the machine has free
    assert ranks.returncode == 0, ranks.stderr[-3000:]
    assert "training ran in 2 data-parallel CPU processes" in " ".join(ranks.stderr.split())
    one, two = losses(tmp_path / "inline"), losses(tmp_path / "ranks")
    assert sorted(one) == sorted(two) == [1, 2, 3, 4, 5]
    assert [two[k] for k in sorted(two)] == pytest.approx([one[k] for k in sorted(one)], rel=1e-5)
    record = json.loads((tmp_path / "ranks" / "steps" / "train.json").read_text())
    assert record["train_tokens"] == json.loads((tmp_path / "inline" / "steps" / "train.json").read_text())[
        "train_tokens"]  # the rows without targets are not counted
    assert ranks.stderr.count("training examples exceed") == 1  # one process speaks, not each


def test_a_fresh_training_process_gives_the_inline_losses_and_reports_its_peak(runs):
    single, two, _, _ = runs
    process = two.parent / "process"
    assert losses(process) == losses(single)
    inline_record = json.loads((single / "steps" / "train.json").read_text())
    record = json.loads((process / "steps" / "train.json").read_text())
    assert "process_peak_rss_mb" not in inline_record
    # the training process loaded torch and the model: its peak is hundreds of MB, and the step's is the larger
    assert 200 < record["process_peak_rss_mb"] <= record["peak_rss_mb"]
    assert record["final_loss"] == inline_record["final_loss"]
    info = json.loads((process / "run_info.json").read_text())
    assert info["finished"] and info["stages"] == ["base", "final"]


def test_a_user_error_in_the_training_process_reads_as_one_raised_inline(tmp_path, tiny_model):
    done = lingotune("run", str(TINY), f"output_dir={tmp_path / 'x'}", "train.max_length=4", "--launcher", "process")
    out = done.stdout + done.stderr
    assert done.returncode == 2, out[-2000:]  # the CLI's exit status for user errors, not a crash's
    assert "error: no training example fits train.max_length" in " ".join(out.split())
    assert "Traceback" not in out


def test_two_gloo_processes_follow_the_single_process_trajectory(runs):
    single, two, _, launched = runs
    one, both = losses(single), losses(two)
    assert sorted(one) == sorted(both) == [1, 2, 3, 4]
    assert [both[k] for k in sorted(both)] == pytest.approx([one[k] for k in sorted(one)], rel=1e-4)
    assert "training ran in 2 processes under accelerate launch" in launched.stdout + launched.stderr


def test_only_the_main_process_writes_the_run_folder(runs):
    _, two, _, _ = runs
    lines = [json.loads(x) for x in (two / "metrics.jsonl").read_text().splitlines() if x]
    assert [r["step"] for r in lines if "loss" in r] == [1, 2, 3, 4]  # one line per step, not one per process
    info = json.loads((two / "run_info.json").read_text())
    assert info["finished"] and info["stages"] == ["base", "final"]
    assert (two / "model" / "model.safetensors").is_file()
    assert (two / "eval" / "final" / "summary.json").is_file()


@pytest.mark.parametrize("config", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_accelerate_configs_load(config):
    from accelerate.commands.config.config_args import load_config_from_file

    loaded = load_config_from_file(str(config))
    assert loaded.num_processes >= 1
    assert loaded.distributed_type.value == yaml.safe_load(config.read_text())["distributed_type"]


def test_launcher_flags_go_together(tmp_path):
    done = lingotune("run", str(TINY), f"output_dir={tmp_path / 'x'}", "--launcher", "accelerate")
    assert done.returncode != 0 and "--config" in " ".join((done.stderr + done.stdout).split())
    done = lingotune("run", str(TINY), f"output_dir={tmp_path / 'x'}", "--launcher", "accelerate",
                     "--config", str(tmp_path / "missing.yaml"))
    assert done.returncode != 0 and "no such file" in " ".join((done.stderr + done.stdout).split())
    done = lingotune("run", str(TINY), f"output_dir={tmp_path / 'x'}", "--launcher", "elsewhere")
    assert done.returncode == 2 and "expected one of process, inline, accelerate" in " ".join(done.stderr.split())
    done = lingotune("run", str(TINY), f"output_dir={tmp_path / 'x'}", env={"LINGOTUNE_LAUNCHER": "accelerate"})
    assert done.returncode == 2 and "LINGOTUNE_LAUNCHER=accelerate" in done.stderr


@pytest.mark.parametrize("ranks", [1, 2])
def test_a_warm_training_process_ends_quietly_when_no_job_comes(tmp_path, ranks):
    import psutil

    from lingotune.train.distributed import WarmTrainingProcess

    job = tmp_path / "launch_job.pkl"
    warm = WarmTrainingProcess(job, ranks)
    assert warm.available and warm.takes(job, ranks) and not warm.takes(job, 3 - ranks)
    time.sleep(0.5)
    started = time.monotonic()
    assert warm.close() is not None  # ended at once, importing or waiting
    assert time.monotonic() - started < 5
    assert not warm.available and warm.close() is None
    deadline = time.monotonic() + 10  # torchrun's workers, in sessions of their own, end too
    while any(str(job) in " ".join(p.info["cmdline"] or []) for p in psutil.process_iter(["cmdline"])):
        assert time.monotonic() < deadline, "a waiting training process outlived close()"
        time.sleep(0.2)


def test_a_run_that_stops_before_training_ends_its_waiting_processes_without_a_traceback(tmp_path):
    # torchrun answers SIGTERM with a traceback of its own, which would follow the run's own error message
    import subprocess
    import sys

    script = ("import time; from pathlib import Path; from lingotune.train.distributed import WarmTrainingProcess; "
              f"w = WarmTrainingProcess(Path({str(tmp_path / 'launch_job.pkl')!r}), 2); time.sleep(6); w.close()")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr[-2000:]


def test_only_a_run_left_to_train_in_a_process_starts_one_early(tmp_path):
    from lingotune.plan import load_recipe, plan
    from lingotune.plan.runner import first_training_in_a_process

    the_plan = plan(load_recipe(TINY, [f"output_dir={tmp_path}"]))
    assert first_training_in_a_process(the_plan, None, "process").name == "train"
    assert first_training_in_a_process(the_plan, None, "inline") is None
    assert first_training_in_a_process(the_plan, CPU_2PROC, None) is None
    resumed = plan(load_recipe(TINY, [f"output_dir={tmp_path}", "train.resume=true"]))
    marker = resumed.layout.step_marker("train")
    marker.parent.mkdir(parents=True)
    marker.write_text('{"steps": 4, "model_dir": "model"}')  # the training step is done: nothing left to train
    assert first_training_in_a_process(resumed, None, "process") is None


def _alive(process) -> bool:
    import psutil

    try:
        return process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_torchrun_workers_end_with_their_launcher_however_it_ends(tmp_path):
    # the workers sit in sessions of their own (torch.distributed.run's choice): a launcher killed outright
    # (say, with the run) must not leave them waiting or training, however early it dies
    import signal

    import psutil

    from lingotune.train.distributed import WarmTrainingProcess

    for settle in (0.0, 3.0):  # killed as the workers start, and once they are importing
        warm = WarmTrainingProcess(tmp_path / f"job-{settle}.pkl", 2)
        launcher = psutil.Process(warm._process.pid)
        deadline = time.monotonic() + 30
        workers: list = []
        while len(workers) < 2:  # started: the launcher's children, past exec
            assert time.monotonic() < deadline, "torchrun started no workers"
            workers = [p for p in launcher.children() if "torch.distributed.run" not in " ".join(p.cmdline())]
            time.sleep(0.05)
        time.sleep(settle)
        os.kill(launcher.pid, signal.SIGKILL)
        warm._process.wait()
        deadline = time.monotonic() + 15
        while any(_alive(p) for p in workers):
            assert time.monotonic() < deadline, f"a worker outlived its launcher (killed {settle} s after start)"
            time.sleep(0.2)
        warm.close()
