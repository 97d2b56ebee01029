"""Several training processes that take the steps one process would, example for example.

Under data parallelism accelerate deals micro-batch i of the (one, seeded) shuffled order to process
i mod N. With N processes and ``grad_accum / N`` micro-batches each per step, a step then holds exactly
the micro-batches that one process with ``grad_accum`` would have accumulated, and the Trainer's loss
normaliser counts every process's targets, so the loss trajectories agree up to float rounding.

Except at the end of the epoch: when the last micro-batch is partial or the number of micro-batches is
not a multiple of N, accelerate (``even_batches``) completes the last round with examples from the start
of the epoch, which then train twice (the quickstart's last step: loss 2.24 instead of 1.49 with two
processes). Here the epoch's order is instead followed by rows without targets, enough to make every
micro-batch full and their number a multiple of N: they add nothing to the loss, its normaliser or the
gradients (a micro-batch of them contributes a zero loss that still reaches the graph, which DDP needs;
``label_loss.token_losses``). Written here because accelerate and the Trainer pad only with real examples.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

PAD_ROW_TOKENS = 2  # a pad row's length: any row without targets would do; short ones cost nothing


def pad_rows_needed(rows: int, batch_size: int, processes: int) -> int:
    """Rows without targets to append so that ``rows`` fill whole micro-batches of ``batch_size`` whose
    number is a multiple of ``processes`` (0 in one process: there is nothing to even out)."""
    if processes <= 1:
        return 0
    micro_batches = math.ceil(rows / batch_size)
    return math.ceil(micro_batches / processes) * processes * batch_size - rows


def pad_row(pad_token_id: int, columns: list[str]) -> dict[str, list | int]:
    """One row without targets, with every column the dataset has (twin branches: none)."""
    from lingotune.train.label_loss import IGNORE_INDEX

    row: dict[str, list | int] = {"input_ids": [pad_token_id] * PAD_ROW_TOKENS,
                                  "labels": [IGNORE_INDEX] * PAD_ROW_TOKENS}
    if "branch_ids" in columns:
        row.update(branch_ids=[], branch_labels=[], branch_start=-1)
    return row


class TailPaddedSampler:
    """The real rows in ``order``'s sequence, then the pad rows (indices ``real`` … ``real + pads - 1``).

    ``order`` must draw the same sequence in every process (a seeded sampler); ``set_epoch`` reaches it as
    accelerate's data loader would reach a sampler it had made seedable itself."""

    def __init__(self, order, real: int, pads: int) -> None:
        self.order, self.real, self.pads = order, real, pads

    def __iter__(self) -> Iterator[int]:
        yield from self.order
        yield from range(self.real, self.real + self.pads)

    def __len__(self) -> int:
        return self.real + self.pads

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.order, "set_epoch"):
            self.order.set_epoch(epoch)


def real_rows_order(args, rows: int, lengths: list[int] | None):
    """The order one process would draw the first ``rows`` rows in: accelerate's seedable random sampler
    (what it puts in place of the Trainer's ``RandomSampler``), or the Trainer's length-grouped sampler over
    the whole accumulated batch of all processes (one process's megabatches)."""
    if lengths is not None:
        from transformers.trainer_pt_utils import LengthGroupedSampler

        return LengthGroupedSampler(args.train_batch_size * args.gradient_accumulation_steps * args.world_size,
                                    lengths=lengths[:rows])
    from accelerate.data_loader import SeedableRandomSampler

    return SeedableRandomSampler(range(rows), data_seed=args.data_seed if args.data_seed is not None else args.seed)
