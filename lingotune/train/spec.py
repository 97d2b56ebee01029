"""The ``train:`` section and self-paced learning's settings, beside the trainer that reads them."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from lingotune.core.schema import Dtype, Strict
from lingotune.models.selection import Selection


class LoraSpec(Strict):
    r: int = Field(default=16, gt=0)
    alpha: float = 32
    dropout: float = Field(default=0.0, ge=0, lt=1)
    target_modules: str | list[str] = "all-linear"


class UnlikelihoodSpec(Strict):
    """Negative twins of the training answers, trained *against* (train/negatives.py)."""

    weight: float = Field(default=1.0, gt=0, description="α: weight of the unlikelihood loss -log(1 - p) "
                          "of a negative token beside the cross-entropy of a target token")
    echo: bool = Field(default=True, description="twin answering with its prompt copied back")
    loop: bool = Field(default=True, description="twin answering with its opening words said again and again")
    max_tokens: int = Field(default=32, gt=0, description="negative tokens per twin (the first ones decide)")
    fraction: float = Field(default=1.0, gt=0, le=1, description="share of the eligible examples that get a "
                            "twin (each twin is one more, short, training sequence)")


class TrainSpec(Strict):
    method: Literal["lora", "full"] = "lora"
    lora: LoraSpec = LoraSpec()
    learning_rate: float = Field(default=2e-4, gt=0)
    epochs: float = Field(default=1.0, gt=0)
    max_steps: int = -1
    batch_size: int = Field(default=8, gt=0)
    grad_accum: int = Field(default=1, gt=0)
    max_length: int = Field(default=512, gt=0)
    warmup_ratio: float = Field(default=0.03, ge=0, lt=1)
    lr_scheduler: str = "cosine"
    weight_decay: float = 0.0
    save_steps: int = Field(default=50, gt=0)
    save_total_limit: int = Field(default=2, gt=0)
    resume: bool = False
    report_to: str | list[str] = "none"
    loss_on: Literal["assistant", "all"] = "assistant"
    freeze: Selection | None = None
    logging_steps: int = Field(default=1, gt=0)
    group_by_length: bool | None = Field(default=None, description="batch examples of similar length together; "
                                         "default: only with padding (packed rows do not pad, and grouping puts "
                                         "the longest examples in one batch: the memory peak)")
    packing: bool = Field(default=True, description="lay each micro-batch's examples end to end in one row "
                          "(no padding; attention stays inside each example; same loss as padded rows)")
    unlikelihood: UnlikelihoodSpec | None = Field(default=None, description="train against copying the "
                                                  "prompt and looping (issue 10); off by default")
    dtype: Dtype = "auto"
    # Off by default: on 2 CPU cores neither pays for itself (benchmarks/README.md); on a GPU try them.
    compile: bool = Field(default=False, description="torch.compile the model (Trainer's torch_compile)")
    gradient_checkpointing: bool = Field(default=False, description="recompute activations in the backward pass")
    checkpoint_above_tokens: int | None = Field(default=None, gt=0, description="recompute activations only "
                                                "for micro-batches of more than this many tokens (rows × width), "
                                                "in just enough layers to keep the stored ones near this many "
                                                "tokens' worth: caps the peak set by the longest micro-batches "
                                                "(train/checkpointing.py)")
    trim_memory_every: int = Field(default=1, ge=0, description="return freed memory to the operating system "
                                   "every N steps, and between those steps' micro-batches (glibc malloc_trim; "
                                   "0: never). Quickstart on 2 CPU cores, before its oneDNN cap and "
                                   "checkpoint_above_tokens: every step 4.3 GB peak, every 4 steps 5.0 GB, never "
                                   "6.6 GB; 7 % slower than every 4 (benchmarks/README.md)")
    trim_memory_above_mb: float | None = Field(default=None, gt=0, description="trim (trim_memory_every) only "
                                               "when the process's resident memory is above this many MB: the "
                                               "heap is reused until then, and reusing it spares faulting its "
                                               "pages in again. Quickstart's training at 2,500: 226 s, 3.1 GB "
                                               "peak; trimming every micro-batch 243 s, 3.0 GB; never 209 s, "
                                               "3.6 GB and rising (benchmarks/README.md)")

    @model_validator(mode="after")
    def _one_checkpointing(self) -> TrainSpec:
        if self.gradient_checkpointing and self.checkpoint_above_tokens is not None:
            raise ValueError("train.gradient_checkpointing recomputes every micro-batch and "
                             "train.checkpoint_above_tokens only the long ones: set one of them")
        return self


class SelfPacedSpec(Strict):
    """Self-paced learning inside a phase (methods.md §1.4, §8): easy → hard by loss quantile."""

    epochs: int = Field(default=3, gt=0, description="SPL epochs before the final full-data epoch")
    q0: float = Field(default=0.5, gt=0, le=1, description="share of the data selected in the first SPL epoch")
    schedule: Literal["linear", "root", "geometric"] = "linear"
    weighting: Literal["hard", "linear", "log", "mixture"] = "hard"
    difficulty: Literal["current", "static", "length"] = "current"
    final_full_epoch: bool = True
