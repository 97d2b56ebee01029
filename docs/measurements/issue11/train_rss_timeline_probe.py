"""The quickstart's training step alone, with its resident memory sampled every 0.1 s and every
micro-batch's start, shape and target count recorded: where in the step does the peak happen?
(Issue 11, 2026-12-05: the micro-batches' starting RSS climbed from 0.86 to 1.7 GB, so the peak came
from that floor plus an ordinary micro-batch, not from the longest one alone.)

Run from the repository root (KEY=VALUE overrides the recipe's train section, JSON values):
``python docs/measurements/issue11/train_rss_timeline_probe.py OUT_DIR [max_steps=25] [checkpoint_above_tokens=1024]``
then ``python docs/measurements/issue11/train_rss_timeline_probe.py --summary OUT_DIR/timeline.json``.
"""

from __future__ import annotations

import json
import statistics
import sys
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(REPO))


def record(out: Path, overrides: list[str]) -> None:
    import transformers.trainer as hf_trainer

    from lingotune.core.context import RunContext
    from lingotune.core.layout import RunLayout
    from lingotune.core.peak_memory import peak_rss_mb, rss_mb
    from lingotune.models.sources import resolve_model
    from lingotune.plan.load import load_recipe
    from lingotune.train import packing
    from lingotune.train.run import train_on

    out.mkdir(parents=True, exist_ok=True)
    samples: list[tuple[float, float | None]] = []
    events: list[tuple[float, str, list[int] | None, int | None]] = []
    t0 = time.time()

    def sample() -> None:
        while True:
            samples.append((round(time.time() - t0, 2), rss_mb()))
            time.sleep(0.1)

    threading.Thread(target=sample, daemon=True).start()
    compute_loss = packing.LabelLossTrainer.compute_loss

    def recorded_loss(self, model, inputs, *args, **kwargs):
        events.append((round(time.time() - t0, 2), "micro-batch", list(inputs["input_ids"].shape),
                       int((inputs["labels"] != -100).sum())))
        return compute_loss(self, model, inputs, *args, **kwargs)

    save_checkpoint = hf_trainer.Trainer._save_checkpoint

    def recorded_save(self, *args, **kwargs):
        events.append((round(time.time() - t0, 2), "checkpoint", None, None))
        return save_checkpoint(self, *args, **kwargs)

    packing.LabelLossTrainer.compute_loss = recorded_loss
    hf_trainer.Trainer._save_checkpoint = recorded_save
    recipe = load_recipe(REPO / "recipes" / "quickstart.yaml")
    spec = recipe.train
    for item in overrides:
        key, value = item.split("=", 1)
        spec = spec.model_copy(update={key: json.loads(value)})
    ctx = RunContext(layout=RunLayout(out), seed=recipe.seed, language_names=recipe.language_names)
    started = time.time()
    try:
        train_on(resolve_model("smollm2-135m-instruct"), recipe.data, spec, ctx, out / "train")
    finally:
        (out / "timeline.json").write_text(json.dumps({
            "overrides": overrides, "seconds": round(time.time() - started, 1), "peak_rss_mb": peak_rss_mb(),
            "samples": samples, "events": events}))


def summary(path: Path) -> None:
    data = json.loads(path.read_text())
    samples, events = data["samples"], [e for e in data["events"] if e[1] == "micro-batch"]
    ends = [e[0] for e in events[1:]] + [samples[-1][0]]
    starts = [next((r for t, r in samples if t >= e[0]), None) for e in events]
    peaks = [max((r for t, r in samples if e[0] <= t < end), default=0.0) for e, end in zip(events, ends, strict=True)]
    tokens = [e[2][0] * e[2][1] for e in events]
    top = max(range(len(events)), key=peaks.__getitem__)
    print(json.dumps({
        "overrides": data["overrides"], "seconds": data["seconds"], "peak_rss_mb": data["peak_rss_mb"],
        "micro_batches": len(events), "tokens_median": statistics.median(tokens), "tokens_max": max(tokens),
        "start_rss_mb_first_last": [starts[0], starts[-1]],
        "peak_micro_batch": {"shape": events[top][2], "start_rss_mb": starts[top], "peak_rss_mb": peaks[top]},
        "longest_micro_batch_peak_mb": peaks[max(range(len(events)), key=tokens.__getitem__)],
    }, indent=1))


if __name__ == "__main__":
    if sys.argv[1] == "--summary":
        summary(Path(sys.argv[2]))
    else:
        record(Path(sys.argv[1]), sys.argv[2:])
