"""Data builders by their YAML name (``builder:`` of a data source); one module each.

Adding a builder: a module here with a ``SourceSpec`` subclass decorated with ``@register`` (its
``builder: Literal["name"]`` is the YAML name), plus its import below.
"""

from __future__ import annotations

from typing import Annotated, Any, Union

from pydantic import Discriminator, Tag

from lingotune.data.recipe_builders import (  # noqa: F401  (each import registers its builder)
    as_is,
    classification,
    crossalpaca,
    extractive_qa,
    long_answer,
    plug,
    system_prompt,
    translation,
    xcit_both,
    xcit_chat,
    xcit_monolingual,
)
from lingotune.data.recipe_builders.base import BUILDERS, BuildContext, SourceSpec


def _builder_of(value: Any) -> str:
    return value.get("builder", "as_is") if isinstance(value, dict) else getattr(value, "builder", "as_is")


DataSource = Annotated[
    Union[tuple(Annotated[cls, Tag(name)] for name, cls in BUILDERS.items())],  # noqa: UP007 (built at runtime)
    Discriminator(_builder_of),
]

__all__ = ["BUILDERS", "BuildContext", "DataSource", "SourceSpec"]
