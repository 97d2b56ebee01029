"""A/B of packed training layouts on the quickstart's examples: rows with a block-diagonal mask
("rows", the trainer before 2026-12-05 afternoon) against one row with one causal SDPA call per example
("seg", models/segment_attention.py). Same examples, 4 x 2 micro-batches, bf16 autocast, LoRA r16,
micro-batches over 1,024 tokens recomputing some layers (the quickstart's checkpoint_above_tokens),
1 warm-up step then N timed steps.

Since 2026-12-05 night ``seg`` also skips PEFT's LoRA input casts while training
(``train.callbacks.SkipAdapterInputCasts``); ``seg-casts`` is ``seg`` with the casts, as before
(adapter_input_casts_ab_2026-12-05.json).

Run from the repository root: ``python docs/measurements/issue11/segment_attention_ab_probe.py rows|seg|seg-casts [N]``;
it prints one JSON line (timed seconds, median step, peak RSS, the logged losses).
Results of 2026-12-05: segment_attention_ab_2026-12-05.json (measured with the benchmark's
lingotune-ckptlong kind, before the benchmark's lingotune kinds switched to per-example attention).
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO / "benchmarks"))


def main(mode: str, steps: int) -> None:
    import train_throughput as bench
    from transformers import TrainerCallback

    from lingotune.train.checkpointing import checkpoint_long_batches

    model, tokenizer, _ = bench._model_and_tokenizer("smollm2", "cpu")
    examples, tokenized = bench._examples(tokenizer, 384, 8 * (steps + 1) * 4)
    args = dict(per_device_train_batch_size=4, gradient_accumulation_steps=2, max_steps=steps + 1,
                learning_rate=2e-4, bf16=True, use_cpu=True, report_to="none", save_strategy="no", logging_steps=1,
                disable_tqdm=True, dataloader_num_workers=0, seed=0)
    kind = "lingotune-rows" if mode == "rows" else "lingotune"
    trainer = bench._trainer(kind, model, tokenizer, args, examples, tokenized, 384, Path("/tmp/segment-ab") / mode)
    checkpoint_long_batches(trainer.model, 1024)
    if mode == "seg-casts":
        from lingotune.train.callbacks import SkipAdapterInputCasts

        trainer.remove_callback(SkipAdapterInputCasts)
    times: list[float] = []
    losses: list[float] = []

    class Record(TrainerCallback):
        def on_step_begin(self, args, state, control, **kwargs):
            self.started = time.perf_counter()

        def on_step_end(self, args, state, control, **kwargs):
            times.append(time.perf_counter() - self.started)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if logs and "loss" in logs:
                losses.append(logs["loss"])

    trainer.add_callback(Record())
    trainer.train()
    timed = times[1:]
    print(json.dumps({"mode": mode, "seconds_timed": sum(timed), "median": statistics.median(timed),
                      "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "losses": losses}))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 8)
