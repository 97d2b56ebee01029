"""The ``data:`` section (and each phase's or expert's): sources, each with its builder, mixed by weight."""

from __future__ import annotations

from pydantic import Field, model_validator

from lingotune.core.schema import Strict
from lingotune.data.recipe_builders import DataSource


class DataSpec(Strict):
    sources: list[DataSource] = Field(min_length=1)
    total_examples: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _unique_names(self) -> DataSpec:
        names = [source.name for source in self.sources]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"data source names must be unique; {repeated} used more than once")
        return self
