"""Packed batches and the Trainer whose loss reads only the target positions.

Packing: each micro-batch's examples are laid end to end in rows, with position ids that restart per
example and no attention mask, so that transformers builds a block-diagonal causal mask from the
restarting position ids (SDPA and eager attention) and flash-attention kernels take the boundaries as
``cu_seq_lens``: attention never crosses an example boundary. The micro-batch holds the same examples
as the padded one would, so a step's loss is the padded step's up to float rounding
(tests/test_packing.py holds it to that, with gradients).

Row layout differs by kernel, because the cost does (measured, benchmarks/README.md):
- flash attention, and SDPA on CPU through ``segment_attention`` (lingotune's default for packed
  training there): one row (transformers' ``DataCollatorWithFlattening``) with the examples'
  boundaries as ``cu_seq_lens``; varlen kernels and per-example calls cost what the examples cost;
- other SDPA/eager (GPUs without flash attention, models with sliding windows, ``train.compile``): a
  masked SDPA computes the whole row × row score matrix, so one long row of n examples costs ~n× the
  attention of padded rows and keeps a score matrix per layer for the backward (2.1 GB vs 1.0 GB for 8
  quickstart examples). Rows are therefore capped at the batch's longest example and filled first-fit
  decreasing (written here: transformers has one-row flattening only, TRL's BFD packing regroups
  examples across steps): never more work than the padded batch, less padding. A row's tail of padding
  continues the last example's positions, so it joins that example's segment, attends only backwards
  and carries no target: no attention mask is needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from transformers import DataCollatorForSeq2Seq, DataCollatorWithFlattening, Trainer

from lingotune.train.label_loss import IGNORE_INDEX, token_losses, unlikelihood_losses

BRANCH_COLUMNS = ("branch_ids", "branch_labels", "branch_start")  # a dataset's twin branches (sft._dataset)


def row_tokens(dataset) -> list[int]:
    """Tokens each row of a training dataset computes: its own and its twin branch's, if any (the prompt
    the branch shares is counted once)."""
    lengths = [len(ids) for ids in dataset["input_ids"]]
    if "branch_ids" not in dataset.column_names:
        return lengths
    return [n + len(branch) for n, branch in zip(lengths, dataset["branch_ids"], strict=True)]


def first_fit_rows(lengths: list[int], capacity: int) -> list[list[int]]:
    """Indices grouped into rows of total length ≤ capacity, longest first (first-fit decreasing)."""
    rows: list[list[int]] = []
    room: list[int] = []
    for i in sorted(range(len(lengths)), key=lambda k: -lengths[k]):
        row = next((r for r, free in enumerate(room) if free >= lengths[i]), None)
        if row is None:
            rows.append([])
            room.append(capacity)
            row = len(rows) - 1
        rows[row].append(i)
        room[row] -= lengths[i]
    return rows


@dataclass
class PackingCollator:
    """Packed rows (see the module docstring). ``example_order`` says which feature each segment holds
    (rows reorder them); a per-example "weight" (self-paced learning) is passed on in feature order.
    ``one_row``: one row, with the boundaries for a varlen kernel (flash attention, segment_attention)."""

    pad_token_id: int = 0
    one_row: bool = False

    def __call__(self, features: list[dict[str, Any]]) -> dict[str, Any]:
        import torch

        branched = any(f.get("branch_start", -1) >= 0 for f in features)
        if branched and not self.one_row:
            raise ValueError("twin branches (train/twin_branches.py) need one packed row per micro-batch")
        if branched:
            order = list(range(len(features)))
            batch = branched_row(features)
        elif self.one_row:
            order = list(range(len(features)))
            batch = DataCollatorWithFlattening(return_flash_attn_kwargs=True)(
                [{"input_ids": f["input_ids"], "labels": f["labels"]} for f in features])
        else:
            lengths = [len(f["input_ids"]) for f in features]
            rows = first_fit_rows(lengths, max(lengths))
            order = [i for row in rows for i in row]
            width = max(sum(lengths[i] for i in row) for row in rows)
            ids, labels, positions = [], [], []
            for row in rows:
                row_ids: list[int] = []
                row_labels: list[int] = []
                row_positions: list[int] = []
                for i in row:
                    row_ids += list(features[i]["input_ids"])
                    row_labels += [IGNORE_INDEX, *list(features[i]["labels"])[1:]]
                    row_positions += list(range(lengths[i]))
                tail = width - len(row_ids)
                last = row_positions[-1]
                ids.append(row_ids + [self.pad_token_id] * tail)
                labels.append(row_labels + [IGNORE_INDEX] * tail)
                positions.append(row_positions + list(range(last + 1, last + 1 + tail)))
            batch = {"input_ids": torch.tensor(ids), "labels": torch.tensor(labels),
                     "position_ids": torch.tensor(positions)}
        batch["example_order"] = torch.tensor(order)
        if any("weight" in f for f in features):
            batch["weight"] = torch.tensor([float(f.get("weight", 1.0)) for f in features], dtype=torch.float32)
        return batch


def branched_row(features: list[dict[str, Any]]) -> dict[str, Any]:
    """One row as ``DataCollatorWithFlattening`` lays it out, each example followed by its twin branch
    (``train/twin_branches.py``), if any, at the twin's own positions; ``segment_branches`` gives per
    example its own length and the branch's start (the length alone: no branch), for ``segment_sdpa``."""
    import torch

    ids: list[int] = []
    labels: list[int] = []
    positions: list[int] = []
    edges, branches = [0], []
    for f in features:
        n = len(f["input_ids"])
        ids += list(f["input_ids"])
        labels += [IGNORE_INDEX, *list(f["labels"])[1:]]
        positions += range(n)
        start = f.get("branch_start", -1)
        if start >= 0:
            ids += list(f["branch_ids"])
            labels += [IGNORE_INDEX, *list(f["branch_labels"])[1:]]
            positions += range(start, start + len(f["branch_ids"]))
        branches.append((n, max(start, 0)))
        edges.append(len(ids))
    longest = max(b - a for a, b in zip(edges, edges[1:], strict=False))
    bounds = torch.tensor(edges, dtype=torch.int32)
    return {"input_ids": torch.tensor([ids]), "labels": torch.tensor([labels]),
            "position_ids": torch.tensor([positions]), "cu_seq_lens_q": bounds, "cu_seq_lens_k": bounds,
            "max_length_q": longest, "max_length_k": longest, "segment_branches": torch.tensor(branches)}


def uses_flash_attention(model) -> bool:
    return str(getattr(model.config, "_attn_implementation", None) or "").startswith("flash")


def packs_one_row(model) -> bool:
    """Varlen attention (flash kernels, or ``segment_attention`` on CPU): the micro-batch is one row."""
    from lingotune.models.segment_attention import uses_segment_attention

    return uses_flash_attention(model) or uses_segment_attention(model)


def training_collator(tokenizer, model, packing: bool):
    """Packed rows when packing, else right-padded rows (labels padded with -100)."""
    if packing:
        return PackingCollator(tokenizer.pad_token_id or 0, packs_one_row(model))
    return DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=IGNORE_INDEX)


class LabelLossTrainer(Trainer):
    """Trainer whose loss is the token-level mean cross-entropy computed at target positions only
    (``label_loss.token_losses``): the same objective as the model's own loss, normalised the way the
    Trainer normalises it (over the target tokens of the whole accumulated batch across processes).

    ``unlikelihood_weight``: negative tokens (train/negatives.py) add weight × -log(1 - p) instead; the
    Trainer counts them among the batch's targets, so they share the normaliser."""

    def __init__(self, *args, unlikelihood_weight: float = 0.0, pad_rows: int = 0, **kwargs):
        super().__init__(*args, **kwargs)
        self.unlikelihood_weight = unlikelihood_weight
        # several processes: rows without targets at the dataset's end, balanced steps (train/rank_padding.py)
        self.pad_rows = pad_rows

    def _get_train_sampler(self, train_dataset=None):
        if self.args.world_size <= 1:
            return super()._get_train_sampler(train_dataset)
        from lingotune.train.rank_padding import StepLayout, TailPaddedSampler, real_rows_order

        dataset = train_dataset if train_dataset is not None else self.train_dataset
        real = len(dataset) - self.pad_rows
        grouped = self.args.train_sampling_strategy == "group_by_length"
        order = real_rows_order(self.args, real, [len(ids) for ids in dataset["input_ids"]] if grouped else None)
        steps = StepLayout(row_tokens(dataset), self.args.per_device_train_batch_size, self.args.world_size,
                           self.args.gradient_accumulation_steps)
        return TailPaddedSampler(order, real, self.pad_rows, steps)

    def _set_signature_columns_if_needed(self) -> None:
        super()._set_signature_columns_if_needed()
        self._signature_columns += [c for c in BRANCH_COLUMNS if c not in self._signature_columns]

    def compute_loss(self, model, inputs, return_outputs: bool = False, num_items_in_batch=None):
        if self.unlikelihood_weight:
            losses = unlikelihood_losses(model, inputs, self.unlikelihood_weight)
        else:
            losses, _ = token_losses(model, inputs)
        if num_items_in_batch is None:
            loss = losses.mean()  # the Trainer then divides by the accumulation steps
        else:
            loss = losses.sum() / num_items_in_batch
            if self.args.average_tokens_across_devices and self.model_accepts_loss_kwargs:
                # num_items_in_batch counted every process's targets; DDP averages the gradients
                loss = loss * self.accelerator.num_processes
        return (loss, {"loss": loss}) if return_outputs else loss
