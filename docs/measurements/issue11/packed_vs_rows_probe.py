"""Peak memory and time of one forward+backward on 4 quickstart examples (issue 11): packed rows (the
default: block-diagonal mask) against one example per row with tail padding (no mask).

Run from the repository root: ``python docs/measurements/issue11/packed_vs_rows_probe.py packed|single``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path[:0] = [str(REPO / "benchmarks"), str(REPO)]


def main(mode: str) -> None:
    import torch
    from peft import get_peft_model
    from train_throughput import _examples, _lora_config, _model_and_tokenizer

    import lingotune.train.packing as packing
    from lingotune.core.peak_memory import StepPeak, return_freed_memory, rss_mb
    from lingotune.train.label_loss import token_losses

    model, tokenizer, _ = _model_and_tokenizer("smollm2", "cpu")
    model = get_peft_model(model, _lora_config())
    _, tokenized = _examples(tokenizer, 384, 200)
    by_length = sorted(tokenized, key=lambda e: -len(e.input_ids))
    features = [{"input_ids": e.input_ids, "labels": e.labels} for e in (by_length[i] for i in (0, 60, 120, 150))]
    print([len(f["input_ids"]) for f in features])
    if mode == "single":  # one example per row
        packing.first_fit_rows = lambda lengths, _capacity: [[i] for i in sorted(range(len(lengths)),
                                                                                 key=lambda k: -lengths[k])]
    batch = packing.PackingCollator(tokenizer.pad_token_id)(features)
    print(mode, "rows", tuple(batch["input_ids"].shape))

    def step() -> None:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            losses, _ = token_losses(model, batch)
        losses.mean().backward()

    step()
    return_freed_memory()
    start, started = rss_mb(), time.time()
    with StepPeak() as peak:
        for _ in range(3):
            step()
    print(mode, "s/step", round((time.time() - started) / 3, 2), "peak over start MB", round(peak.mb - start))


if __name__ == "__main__":
    main(sys.argv[1])
