"""The per-step memory helpers on this (Linux, glibc) process: what the run loop relies on to start each
step from the memory really in use."""

from __future__ import annotations

import sys
import time

import pytest

from lingotune.core.peak_memory import StepPeak, peak_rss_mb, return_freed_memory, rss_mb

linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self")


def _hold(megabytes: int) -> None:
    block = b"\1" * (megabytes * 2**20)  # every page written: resident
    time.sleep(0.2)  # for several sampling periods
    del block


@linux
def test_a_step_peak_is_measured_without_resetting_the_process_high_water_mark():
    # /usr/bin/time -v and getrusage read the kernel's high-water mark: per-step peaks must leave it alone
    hwm_before = peak_rss_mb()
    return_freed_memory()
    start = rss_mb()
    with StepPeak() as big:
        _hold(300)
    return_freed_memory()  # as the run loop does between steps: the block may have come from the heap
    start_small = rss_mb()
    with StepPeak() as small:
        _hold(100)
    assert big.mb is not None and small.mb is not None
    assert big.mb >= start + 250
    assert start_small + 60 < small.mb < big.mb - 150
    assert peak_rss_mb() >= hwm_before  # a reset would have lowered it to the current size


@linux
def test_freed_small_blocks_go_back_to_the_kernel():
    # 400 MB in 64 kB heap blocks (below glibc's mmap threshold), every 8th kept: the freed ones sit
    # between live blocks, below the heap top that glibc trims by itself, and stay resident (measured:
    # 414 MB before and after gc) until malloc_trim hands their pages back (67 MB)
    return_freed_memory()
    blocks = [bytearray(64 * 2**10) for _ in range(6400)]
    kept = blocks[::8]
    held = rss_mb()
    del blocks
    return_freed_memory()
    assert rss_mb() < held - 250
    assert len(kept) == 800


@pytest.mark.parametrize(("every", "above_mb", "trims"), [(1, None, 6), (2, None, 2), (0, None, 0),
                                                          (1, 1.0, 6), (1, 1e9, 0)])
def test_training_trims_the_heap_after_each_micro_batch_of_the_steps_it_trims(tiny_model, tmp_path, monkeypatch,
                                                                                 every, above_mb, trims):
    # 3 steps of 2 micro-batches: trimming every step trims after all 6 micro-batches (the second one of a
    # step must not start on top of the first one's freed activations); every 2 steps, after both of step 2;
    # with a resident-memory threshold, only above it (1 MB: always; 1e9 MB: never)
    from lingotune.models.loading import load_tokenizer
    from lingotune.train import callbacks
    from lingotune.train.sft import train_sft
    from lingotune.train.spec import TrainSpec
    from lingotune.train.tokenize import TokenizedExample, tokenize_examples
    from tests.test_packing import REPLAY, load_alpaca

    calls: list[int] = []
    monkeypatch.setattr(callbacks, "trim_heap", lambda: calls.append(1))
    tokenizer = load_tokenizer(tiny_model, padding_side="right")
    tokenized, _ = tokenize_examples(tokenizer, load_alpaca(REPLAY, "en")[:12], max_length=512)
    examples = [TokenizedExample(e.input_ids, e.assistant_masks) for e in tokenized]
    spec = TrainSpec(batch_size=2, grad_accum=2, max_steps=3, save_steps=100, dtype="float32",
                     trim_memory_every=every, trim_memory_above_mb=above_mb)
    train_sft(tiny_model, tokenizer, examples, spec, tmp_path, seed=0)
    assert len(calls) == trims


@pytest.mark.parametrize(("users", "expected"), [(None, "128"), ("7", "7")])
def test_importing_lingotune_caps_onednns_primitive_cache_unless_the_user_did(users, expected):
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "ONEDNN_PRIMITIVE_CACHE_CAPACITY"}
    if users is not None:
        env["ONEDNN_PRIMITIVE_CACHE_CAPACITY"] = users
    out = subprocess.run([sys.executable, "-c", "import os, lingotune; "
                          "print(os.environ['ONEDNN_PRIMITIVE_CACHE_CAPACITY'])"],
                         env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected
