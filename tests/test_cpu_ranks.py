"""Which training steps run in several CPU processes, each process's share of the batch, and the rows
without targets that let those processes take one process's steps (``train/cpu_ranks.py``,
``train/rank_padding.py``; the whole runs are in tests/test_distributed.py)."""

from __future__ import annotations

import pytest

from lingotune.core.errors import LingotuneError
from lingotune.train.cpu_ranks import CPU_RANKS_ENV, cpu_ranks, memory_allows, rank_spec, training_command
from lingotune.train.rank_padding import TailPaddedSampler, pad_rows_needed, real_rows_order
from lingotune.train.spec import SelfPacedSpec, TrainSpec

LORA = TrainSpec(method="lora", batch_size=4, grad_accum=2)


@pytest.fixture
def two_cores(monkeypatch):
    monkeypatch.setattr("lingotune.train.cpu_ranks.usable_cores", lambda: 2)
    monkeypatch.setattr("lingotune.train.cpu_ranks.available_mb", lambda: 20000.0)
    memory_allows.cache_clear()
    monkeypatch.delenv(CPU_RANKS_ENV, raising=False)
    yield
    memory_allows.cache_clear()


def test_lora_on_cpu_trains_in_two_processes_and_everything_else_in_one(two_cores, monkeypatch):
    assert cpu_ranks(LORA) == 2
    assert cpu_ranks(LORA.model_copy(update={"method": "full"})) == 1  # every gradient all-reduced: no
    assert cpu_ranks(LORA, self_paced=SelfPacedSpec()) == 1
    assert cpu_ranks(LORA.model_copy(update={"batch_size": 3, "grad_accum": 3})) == 1  # 9 does not split in 2
    monkeypatch.setenv(CPU_RANKS_ENV, "1")
    assert cpu_ranks(LORA) == 1
    monkeypatch.setenv(CPU_RANKS_ENV, "4")
    assert cpu_ranks(LORA) == 2  # never more processes than cores
    monkeypatch.setattr("lingotune.train.cpu_ranks.usable_cores", lambda: 1)
    assert cpu_ranks(LORA) == 1
    monkeypatch.setenv(CPU_RANKS_ENV, "two")
    with pytest.raises(LingotuneError, match="LINGOTUNE_CPU_RANKS=two: expected a whole number"):
        cpu_ranks(LORA)


def test_a_machine_short_of_memory_trains_in_one_process(two_cores, monkeypatch, capsys):
    monkeypatch.setattr("lingotune.train.cpu_ranks.available_mb", lambda: 6000.0)
    memory_allows.cache_clear()
    assert cpu_ranks(LORA) == 1
    assert "5.9 GB available: training in one process instead of 2" in " ".join(capsys.readouterr().err.split())
    monkeypatch.setattr("lingotune.train.cpu_ranks.available_mb", lambda: 20000.0)
    assert cpu_ranks(LORA) == 1  # decided once per run: the warm processes and the step agree
    monkeypatch.setenv(CPU_RANKS_ENV, "2")
    assert cpu_ranks(LORA) == 2  # the user's own number stands


def test_each_process_takes_a_share_of_the_global_batch(two_cores):
    assert (rank_spec(LORA, 2).batch_size, rank_spec(LORA, 2).grad_accum) == (4, 1)  # same micro-batches
    odd = LORA.model_copy(update={"batch_size": 4, "grad_accum": 3})
    assert (rank_spec(odd, 2).batch_size, rank_spec(odd, 2).grad_accum) == (2, 3)
    assert rank_spec(LORA, 1) is LORA
    command, env = training_command(["job.pkl"], 2)
    assert command[1:4] == ["-m", "torch.distributed.run", "--standalone"] and "--nproc-per-node=2" in command
    assert env["OMP_NUM_THREADS"] == "1"


@pytest.mark.parametrize(("rows", "batch", "processes", "pads"), [
    (28, 3, 2, 2),   # 10 micro-batches, the last holding 1: two pads fill it
    (28, 4, 2, 4),   # 7 micro-batches: an eighth of pads only
    (32, 4, 2, 0),   # 8 full micro-batches
    (28, 4, 1, 0),   # one process: nothing to even out
    (5, 2, 4, 3),    # 3 micro-batches, 4 processes
])
def test_pad_rows_fill_whole_micro_batches_in_a_multiple_of_the_processes(rows, batch, processes, pads):
    assert pad_rows_needed(rows, batch, processes) == pads
    total = rows + pads
    assert processes == 1 or (total % batch == 0 and (total // batch) % processes == 0)


def test_the_padded_order_is_one_process_order_then_the_pads():
    from accelerate.data_loader import SeedableRandomSampler
    from transformers import TrainingArguments

    args = TrainingArguments(output_dir="/tmp/unused", seed=3, data_seed=3, use_cpu=True, report_to=[])
    alone = SeedableRandomSampler(range(10), data_seed=3)  # what accelerate makes of the Trainer's shuffle
    padded = TailPaddedSampler(real_rows_order(args, 10, None), 10, 2)
    assert len(padded) == 12
    first = list(padded)
    assert first == [*list(alone), 10, 11]
    assert sorted(first[:10]) == list(range(10))
    padded.set_epoch(1)
    alone.set_epoch(1)
    second = list(padded)
    assert second == [*list(alone), 10, 11] and second[:10] != first[:10]  # each epoch its own shuffle


def test_each_step_is_shared_out_evenly_by_tokens_and_keeps_its_examples():
    from lingotune.train.rank_padding import StepLayout

    # the quickstart's first step as drawn: process 0's micro-batch holds 4 long rows, process 1's 4 short
    costs = [300, 280, 260, 240, 40, 50, 60, 70, 100, 100, 100, 100, 100, 100, 100, 100]
    layout = StepLayout(costs, batch_size=4, processes=2, accumulation=1)
    balanced = layout.balance(list(range(16)))
    steps = [balanced[:8], balanced[8:]]
    assert sorted(steps[0]) == list(range(8)) and sorted(steps[1]) == list(range(8, 16))  # same examples per step
    first, second = steps[0][:4], steps[0][4:]  # what accelerate deals to process 0 and process 1
    assert abs(sum(costs[r] for r in first) - sum(costs[r] for r in second)) <= 40  # drawn: 1080 against 220
    # two accumulated micro-batches per process: a process's share spans its micro-batch of each round
    layout = StepLayout(costs, batch_size=2, processes=2, accumulation=2)
    balanced = layout.balance(list(range(16)))
    window = balanced[:8]
    share = [window[0:2] + window[4:6], window[2:4] + window[6:8]]  # rounds: [p0, p1], [p0, p1]
    assert sorted(share[0] + share[1]) == list(range(8))
    assert abs(sum(costs[r] for r in share[0]) - sum(costs[r] for r in share[1])) <= 40
    # a tail that is not whole rounds stays as drawn
    assert StepLayout(costs[:6], batch_size=4, processes=2, accumulation=1).balance(list(range(6))) == list(range(6))
