"""The ``eval:`` section: tasks (one registered kind each), an optional judge, generation settings."""

from __future__ import annotations

from pydantic import Field, model_validator

from lingotune.core.schema import Dtype, Strict
from lingotune.eval.generation import GenerationServerSpec
from lingotune.eval.judge.config import JudgeSpec
from lingotune.eval.tasks import EvalTask


class EvalSpec(Strict):
    tasks: list[EvalTask] = []
    judge: JudgeSpec | None = None
    batch_size: int = Field(default=16, gt=0)
    token_budget: int = Field(default=12000, gt=0, description="padded prompt tokens per generation batch: long "
                              "prompts get fewer rows (memory), short ones up to batch_size")
    dtype: Dtype = "auto"
    bootstrap_resamples: int = Field(default=1000, gt=0)
    cache_base: bool = True
    samples_in_report: int = Field(default=5, ge=0)
    server: GenerationServerSpec | None = None  # generate through an OpenAI-compatible server (vLLM, ...)

    @model_validator(mode="after")
    def _something_to_evaluate(self) -> EvalSpec:
        if not self.tasks and self.judge is None:
            raise ValueError("eval needs at least one task or a judge section")
        names = [task.name for task in self.tasks] + ([self.judge.name] if self.judge else [])
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"task names must be unique (each names its result files); {repeated} repeat")
        return self
