"""Self-paced learning (SPL) for SFT: train on easy examples first, admit harder ones epoch by epoch.

X-CIT applies SPL in phase 2 (methods.md §1.4 [V-P]); difficulty, schedule and thresholds are [GAP],
so this module implements the standard recipe of Kumar et al. 2010 and Jiang et al. 2014 (§8) with
the §1.4 defaults [INF]:

1. difficulty = mean response-token NLL per example (``example_difficulty``), under the current model
   (recomputed each SPL epoch), under the model at the start of the phase ("static"), or length;
2. the pace is a *quantile* of the difficulties (robust to loss scale, which differs across languages
   and drifts in training): ``q`` grows from ``q0`` to 1 over the SPL epochs (``pace_quantile``);
3. weights from the threshold with the hard, linear, log or mixture scheme (``spl_weights``, §8);
4. one epoch on the examples with weight > 0 (weighted loss: ``WeightedLossTrainer``), then a final
   epoch on all data with weight 1 so hard examples are eventually learned.

The driver ``run_self_paced`` takes the training and scoring steps as callables, so it knows nothing
of Trainer set-up; the recipe wires them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from transformers import DataCollatorForSeq2Seq, Trainer

from lingotune.core.errors import LingotuneError
from lingotune.core.progress import console
from lingotune.train.tokenize import TokenizedExample

Schedule = Literal["linear", "root", "geometric"]
Scheme = Literal["hard", "linear", "log", "mixture"]
DifficultyMode = Literal["current", "static", "length"]
LOG_EPSILON = 1e-6  # losses are divided by max·(1+ε) for log weighting, so every normalised loss is < 1


# ---------------------------------------------------------------------------------------- difficulty
def example_difficulty(model, tokenized_examples: Sequence[TokenizedExample], batch_size: int = 8) -> list[float]:
    """Mean response-token cross-entropy of each example (the §0 per-example loss), without gradients.

    Batches are built from length-sorted examples with right padding (padding gets attention 0 and
    label -100, so each example's loss equals its unbatched loss up to float rounding). Works on plain
    and PEFT models; the model's train/eval mode is restored afterwards.
    """
    import torch

    from lingotune.train.label_loss import example_losses

    if any(not any(e.assistant_masks) for e in tokenized_examples):
        bad = [i for i, e in enumerate(tokenized_examples) if not any(e.assistant_masks)]
        raise LingotuneError(f"example_difficulty: examples {bad[:5]} have no response tokens to score")
    device = next(model.parameters()).device
    pad_id = getattr(getattr(model, "config", None), "pad_token_id", None) or 0
    order = sorted(range(len(tokenized_examples)), key=lambda i: len(tokenized_examples[i].input_ids))
    losses = [0.0] * len(tokenized_examples)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            for start in range(0, len(order), batch_size):
                chunk = order[start:start + batch_size]
                width = max(len(tokenized_examples[i].input_ids) for i in chunk)
                ids = torch.full((len(chunk), width), pad_id, dtype=torch.long)
                labels = torch.full((len(chunk), width), -100, dtype=torch.long)
                attention = torch.zeros((len(chunk), width), dtype=torch.long)
                for row, i in enumerate(chunk):
                    example = tokenized_examples[i]
                    n = len(example.input_ids)
                    ids[row, :n] = torch.tensor(example.input_ids)
                    labels[row, :n] = torch.tensor(example.labels)
                    attention[row, :n] = 1
                batch = {"input_ids": ids.to(device), "attention_mask": attention.to(device),
                         "labels": labels.to(device)}
                per_example, _ = example_losses(model, batch)  # logits at target positions only
                for row, i in enumerate(chunk):
                    losses[i] = float(per_example[row])
    finally:
        model.train(was_training)
    return losses


def length_difficulty(tokenized_examples: Sequence[TokenizedExample]) -> list[float]:
    """Number of response (loss-carrying) tokens: longer answers are harder to produce [INF]."""
    return [float(sum(e.assistant_masks)) for e in tokenized_examples]


# ------------------------------------------------------------------------------------ pace and weights
def pace_quantile(epoch: int, n_epochs: int, q0: float, schedule: Schedule = "linear") -> float:
    """The share of data admitted at SPL epoch ``epoch`` (0-based): ``q0`` at epoch 0, 1.0 at the last.

    With t = epoch / (n_epochs − 1) (§1.4's E_grow = n_epochs − 1): linear ``q0 + (1 − q0)·t`` (§1.4),
    root ``sqrt(q0² + (1 − q0²)·t)`` and geometric ``q0^(1 − t)`` (the pacing functions of public
    curriculum implementations, §8 [V-C]). A single SPL epoch uses ``q0`` (the full epoch follows).
    """
    if not 0.0 < q0 <= 1.0:
        raise LingotuneError(f"SPL start quantile q0 must be in (0, 1], got {q0}")
    if not 0 <= epoch < n_epochs:
        raise LingotuneError(f"SPL epoch {epoch} is outside 0..{n_epochs - 1}")
    t = epoch / (n_epochs - 1) if n_epochs > 1 else 0.0
    if schedule == "linear":
        q = q0 + (1.0 - q0) * t
    elif schedule == "root":
        q = math.sqrt(q0 * q0 + (1.0 - q0 * q0) * t)
    elif schedule == "geometric":
        q = q0 ** (1.0 - t)
    else:
        raise LingotuneError(f"SPL schedule must be linear, root or geometric, got {schedule!r}")
    return min(1.0, q)


def threshold_from_quantile(losses: Sequence[float], q: float) -> float:
    """λ such that ``loss < λ`` selects the ceil(q·n) easiest examples (and any tied with the last).

    λ is the next float above the k-th smallest loss, so §8's strict ``ℓ < λ`` and §1.4's
    ``d ≤ quantile`` select the same set, and q = 1 selects everything [INF].
    """
    if not losses:
        raise LingotuneError("threshold_from_quantile: no losses")
    if not 0.0 < q <= 1.0:
        raise LingotuneError(f"quantile must be in (0, 1], got {q}")
    ordered = sorted(losses)
    k = max(1, math.ceil(q * len(ordered) - 1e-9))
    return math.nextafter(ordered[k - 1], math.inf)


def spl_weights(losses: Sequence[float], threshold: float, scheme: Scheme = "hard",
                mixture_lower: float | None = None) -> list[float]:
    """Per-example SPL weights v_i from losses ℓ_i and the threshold λ (methods.md §8).

    - hard: ``1 if ℓ < λ else 0`` (Kumar et al. 2010);
    - linear: ``max(0, 1 − ℓ/λ)``;
    - log: ``log(ℓ + ζ)/log(ζ)`` if ℓ < λ else 0, ζ = 1 − λ, which needs 0 < λ < 1. LLM losses exceed 1,
      so losses *and* λ are first divided by ``max(max ℓ, λ)·(1 + ε)``: the selected set is unchanged and
      the normalised values lie in (0, 1) [INF];
    - mixture: λ1 = ``threshold`` > λ2 = ``mixture_lower`` > 0 (default λ1/2 [INF]),
      ζ = λ1·λ2/(λ1 − λ2): 1 if ℓ ≤ λ2, 0 if ℓ ≥ λ1, else ``ζ/ℓ − ζ/λ1``.
    """
    if any(not math.isfinite(loss) for loss in losses):
        raise LingotuneError("spl_weights: losses must be finite numbers")
    if scheme == "hard":
        return [1.0 if loss < threshold else 0.0 for loss in losses]
    if threshold <= 0:
        return [0.0 for _ in losses]
    if scheme == "linear":
        return [max(0.0, 1.0 - loss / threshold) for loss in losses]
    if scheme == "log":
        scale = max(max(losses, default=0.0), threshold) * (1.0 + LOG_EPSILON)
        lam = threshold / scale
        zeta = 1.0 - lam
        return [math.log(loss / scale + zeta) / math.log(zeta) if loss < threshold else 0.0 for loss in losses]
    if scheme == "mixture":
        lower = threshold / 2 if mixture_lower is None else mixture_lower
        if not 0 < lower < threshold:
            raise LingotuneError(f"mixture weighting needs λ1 > λ2 > 0; got λ1={threshold}, λ2={lower}")
        zeta = threshold * lower / (threshold - lower)
        return [1.0 if loss <= lower else 0.0 if loss >= threshold else zeta / loss - zeta / threshold
                for loss in losses]
    raise LingotuneError(f"SPL weighting must be hard, linear, log or mixture, got {scheme!r}")


# --------------------------------------------------------------------------------------------- logging
@dataclass
class SPLEpochLog:
    """One SPL epoch; ``kind`` is "spl" or "full" (the closing epoch on all data)."""

    epoch: int
    threshold: float | None
    quantile: float
    n_selected: int
    n_total: int
    mean_difficulty_selected: float
    mean_difficulty_all: float
    kind: str = "spl"
    weight_sum: float | None = None


def append_spl_log(path: str | Path, entry: SPLEpochLog) -> None:
    """Append one JSON line, flushed at once (like metrics.jsonl, a killed run keeps what was logged)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(asdict(entry)) + "\n")


def read_spl_log(path: str | Path) -> list[SPLEpochLog]:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [SPLEpochLog(**json.loads(line)) for line in lines if line.strip()]


def plot_spl(log_path: str | Path, png_path: str | Path) -> Path:
    """Selected examples and mean difficulty (selected vs all) per epoch, as a PNG for the report."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    entries = read_spl_log(log_path)
    epochs = [e.epoch for e in entries]
    figure, (counts, difficulty) = plt.subplots(1, 2, figsize=(10, 3.5))
    counts.bar(epochs, [e.n_total for e in entries], color="#dddddd", label="all")
    counts.bar(epochs, [e.n_selected for e in entries], color="#4c72b0", label="selected")
    counts.set(xlabel="epoch", ylabel="examples", title="Examples trained on")
    counts.legend()
    difficulty.plot(epochs, [e.mean_difficulty_selected for e in entries], marker="o", label="selected")
    difficulty.plot(epochs, [e.mean_difficulty_all for e in entries], marker="s", label="all")
    difficulty.set(xlabel="epoch", ylabel="mean difficulty", title="Difficulty")
    difficulty.legend()
    figure.tight_layout()
    png_path = Path(png_path)
    png_path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(png_path, dpi=100)
    plt.close(figure)
    return png_path


# ------------------------------------------------------------------------------------- weighted training
@dataclass
class WeightedDataCollator(DataCollatorForSeq2Seq):
    """``DataCollatorForSeq2Seq`` that also stacks each feature's "weight" into a float tensor (1.0 if absent)."""

    def __call__(self, features: list[dict[str, Any]], return_tensors: str | None = None) -> dict[str, Any]:
        import torch

        weights = [float(f.get("weight", 1.0)) for f in features]
        batch = super().__call__([{k: v for k, v in f.items() if k != "weight"} for f in features], return_tensors)
        batch["weight"] = torch.tensor(weights, dtype=torch.float32)
        return batch


def weighted_dataset(examples: Sequence[TokenizedExample], weights: Sequence[float] | None = None):
    """A ``datasets.Dataset`` with input_ids, labels (-100 outside assistant masks) and weight."""
    from datasets import Dataset

    weights = [1.0] * len(examples) if weights is None else [float(w) for w in weights]
    if len(weights) != len(examples):
        raise LingotuneError(f"weighted_dataset: {len(examples)} examples but {len(weights)} weights")
    return Dataset.from_dict({"input_ids": [e.input_ids for e in examples],
                              "labels": [e.labels for e in examples], "weight": weights})


class WeightedLossTrainer(Trainer):
    """Trainer whose loss is the weight-normalised mean of per-example mean token losses.

    loss = Σ_i w_i·ℓ_i / Σ_i w_i over the micro-batch, ℓ_i = mean CE over the example's labels ≠ -100;
    a zero-weight example contributes nothing (the §8 weighted objective with v fixed). The batch must
    carry "weight" (use :class:`WeightedDataCollator`); the column survives Trainer's
    ``remove_unused_columns`` because it is added to the kept signature columns. With gradient
    accumulation each micro-batch is normalised by its own weight sum and the Trainer divides by the
    accumulation steps (``loss_is_scaled_for_ga = False``).
    Note the per-example mean differs from Trainer's default token-level mean when examples differ in length.
    Padded or packed batches (``packing.FlatteningCollator`` carries the weights too) give the same loss.
    """

    loss_is_scaled_for_ga = False

    def _set_signature_columns_if_needed(self) -> None:
        super()._set_signature_columns_if_needed()
        if "weight" not in self._signature_columns:
            self._signature_columns.append("weight")

    def compute_loss(self, model, inputs, return_outputs: bool = False, num_items_in_batch=None):
        from lingotune.train.label_loss import example_losses

        inputs = dict(inputs)
        if "weight" not in inputs:
            raise LingotuneError("WeightedLossTrainer: the batch has no 'weight'; build the dataset with "
                                 "weighted_dataset() and use WeightedDataCollator")
        weights = inputs.pop("weight").float()
        per_example, counts = example_losses(model, inputs)  # padded rows or packed segments alike
        weights = weights.to(per_example.device) * (counts > 0)
        total = weights.sum()
        loss = (weights * per_example).sum() / total if total > 0 else (per_example * 0.0).sum()
        return (loss, {"loss": loss}) if return_outputs else loss


# ----------------------------------------------------------------------------------------------- driver
TrainOneEpoch = Callable[[list[TokenizedExample], list[float], int], Any]
Scorer = Callable[[Sequence[TokenizedExample]], list[float]]


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def run_self_paced(
    examples: Sequence[TokenizedExample],
    train_one_epoch: TrainOneEpoch,
    *,
    n_epochs: int,
    difficulty: DifficultyMode = "current",
    score: Scorer | None = None,
    q0: float = 0.5,
    schedule: Schedule = "linear",
    scheme: Scheme = "hard",
    mixture_lower_ratio: float = 0.5,
    log_path: str | Path | None = None,
    final_full_epoch: bool = True,
) -> list[SPLEpochLog]:
    """SPL epochs 0..n_epochs−1 on a growing easy subset, then one epoch on everything (§1.4 steps 1–4).

    ``score(examples)`` returns difficulties under the model being trained (e.g.
    ``lambda ex: example_difficulty(trainer.model, ex)``): called before every epoch for
    ``difficulty="current"``, once before the first for "static" (= under the phase-1 model), never for
    "length". ``train_one_epoch(selected, weights, epoch)`` trains one epoch on the examples with weight
    > 0 (with those weights, e.g. via ``WeightedLossTrainer``); the final epoch gets all examples with
    weight 1 and ``epoch = n_epochs`` (its log reuses the last difficulties: no extra scoring pass).
    Returns (and appends to ``log_path``) one ``SPLEpochLog`` per epoch.
    """
    if n_epochs < 1:
        raise LingotuneError(f"run_self_paced: n_epochs must be >= 1, got {n_epochs}")
    if not examples:
        raise LingotuneError("run_self_paced: no examples")
    if difficulty not in ("current", "static", "length"):
        raise LingotuneError(f"SPL difficulty must be current, static or length, got {difficulty!r}")
    if difficulty != "length" and score is None:
        raise LingotuneError(f"SPL difficulty {difficulty!r} needs a score callable (e.g. example_difficulty)")
    logs: list[SPLEpochLog] = []
    losses: list[float] = []

    def record(entry: SPLEpochLog) -> None:
        logs.append(entry)
        if log_path is not None:
            append_spl_log(log_path, entry)

    for epoch in range(n_epochs):
        if difficulty == "length":
            losses = losses or length_difficulty(examples)
        elif difficulty == "current" or not losses:
            losses = [float(x) for x in score(examples)]  # type: ignore[misc]
        q = pace_quantile(epoch, n_epochs, q0, schedule)
        threshold = threshold_from_quantile(losses, q)
        weights = spl_weights(losses, threshold, scheme, threshold * mixture_lower_ratio)
        chosen = [i for i, w in enumerate(weights) if w > 0]
        entry = SPLEpochLog(epoch, threshold, q, len(chosen), len(examples), _mean([losses[i] for i in chosen]),
                            _mean(losses), "spl", sum(weights))
        console.print(f"SPL epoch {epoch + 1}/{n_epochs}: q={q:.2f}, λ={threshold:.4g}, "
                      f"{len(chosen)}/{len(examples)} examples")
        if chosen:
            train_one_epoch([examples[i] for i in chosen], [weights[i] for i in chosen], epoch)
        record(entry)
    if final_full_epoch:
        console.print(f"SPL final epoch: all {len(examples)} examples")
        train_one_epoch(list(examples), [1.0] * len(examples), n_epochs)
        record(SPLEpochLog(n_epochs, None, 1.0, len(examples), len(examples), _mean(losses), _mean(losses),
                           "full", float(len(examples))))
    return logs


__all__ = [
    "SPLEpochLog", "WeightedDataCollator", "WeightedLossTrainer", "append_spl_log", "example_difficulty",
    "length_difficulty", "pace_quantile", "plot_spl", "read_spl_log", "run_self_paced", "spl_weights",
    "threshold_from_quantile", "weighted_dataset",
]
