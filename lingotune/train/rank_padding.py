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

Balanced steps: the processes meet at every optimizer step (the gradients' all-reduce), so a step takes
as long as its slowest process. Dealt as drawn, the quickstart's micro-batches of one step differed by up
to 50 % in tokens (683 and 714, 691 and 1,046, 539 and 901, …: the larger of each pair 18 % above an
even split), and the quickstart's Trainer took 145.6 s as dealt, 132.6 s balanced. Each
step's examples are therefore shared out between the processes by tokens (longest first, to the process
with the fewest so far, each process taking its full count). A step holds the same examples as before,
so its loss is the same up to float rounding; only which process computes which example changes.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

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
    """The real rows in ``order``'s sequence, then the pad rows (indices ``real`` … ``real + pads - 1``);
    with ``steps`` (a ``StepLayout``), each step's rows shared out evenly between the processes.

    ``order`` must draw the same sequence in every process (a seeded sampler); ``set_epoch`` reaches it as
    accelerate's data loader would reach a sampler it had made seedable itself."""

    def __init__(self, order, real: int, pads: int, steps: StepLayout | None = None) -> None:
        self.order, self.real, self.pads, self.steps = order, real, pads, steps

    def __iter__(self) -> Iterator[int]:
        drawn = [*self.order, *range(self.real, self.real + self.pads)]
        yield from (drawn if self.steps is None else self.steps.balance(drawn))

    def __len__(self) -> int:
        return self.real + self.pads

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.order, "set_epoch"):
            self.order.set_epoch(epoch)


@dataclass(frozen=True)
class StepLayout:
    """How accelerate deals rows out: micro-batches of ``batch_size`` in rounds of one per process, and
    ``accumulation`` rounds per optimizer step; ``costs[row]``: its tokens."""

    costs: list[int]
    batch_size: int
    processes: int
    accumulation: int

    def balance(self, drawn: list[int]) -> list[int]:
        """``drawn`` with each step's rows regrouped so that every process gets as many rows as before and
        the processes' token totals are as even as a longest-first deal makes them."""
        window = self.batch_size * self.processes * self.accumulation
        out: list[int] = []
        for start in range(0, len(drawn), window):
            rows = drawn[start:start + window]
            rounds = len(rows) // (self.batch_size * self.processes)
            if rounds * self.batch_size * self.processes != len(rows):  # not whole rounds: leave as drawn
                out += rows
                continue
            share = rounds * self.batch_size
            groups: list[list[int]] = [[] for _ in range(self.processes)]
            totals = [0] * self.processes
            for row in sorted(rows, key=lambda r: -self.costs[r]):
                target = min((p for p in range(self.processes) if len(groups[p]) < share), key=lambda p: totals[p])
                groups[target].append(row)
                totals[target] += self.costs[row]
            for j in range(rounds):  # round j: process p's micro-batch is the (j·processes + p)-th batch
                for group in groups:
                    out += group[j * self.batch_size:(j + 1) * self.batch_size]
        return out


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
