"""Names for the models a modular recipe makes: ``base``, ``expert:NAME``, ``variant:NAME``.

A modular recipe (methods.md §3) trains experts and merges them into variants inside one run, so
its merges cannot name folders that do not exist yet. Wherever a merge takes a model (and in an
expert's ``freeze.reference``) the recipe writes one of these names instead; they are checked when
the recipe is loaded (unknown name, a variant used before it is built) and replaced by the run's
folders just before each merge runs.
"""

from __future__ import annotations

from collections.abc import Callable

from pydantic import BaseModel

BASE = "base"
KINDS = ("expert", "variant", "phase")


def parse_reference(value: str) -> tuple[str, str] | None:
    """``("base", "")``, ``("expert" | "variant" | "phase", NAME)``, or None for an ordinary model source."""
    if value == BASE:
        return BASE, ""
    kind, sep, name = value.partition(":")
    return (kind, name) if sep and kind in KINDS and name else None


def is_reference(value: str) -> bool:
    return parse_reference(value) is not None


def substitute(spec, resolve: Callable[[str, str], str]):
    """A copy of the merge spec with every reference replaced by ``resolve(kind, name)``."""
    copy = spec.model_copy(deep=True)

    def fix(_: str, value: str) -> str:
        ref = parse_reference(value)
        return value if ref is None else resolve(*ref)

    map_model_sources(copy, fix)
    return copy


MODEL_FIELDS = ("language_expert", "task_expert", "base_model", "expert")


def map_model_sources(spec: BaseModel, fix: Callable[[str, str], str]) -> None:
    """Replace every model source of a merge spec in place by ``fix(recipe_key, source)``."""
    for name in MODEL_FIELDS:
        if isinstance(getattr(spec, name, None), str):
            setattr(spec, name, fix(name, getattr(spec, name)))
    for index, item in enumerate(getattr(spec, "models", None) or []):
        item.model = fix(f"models.{index}.model", item.model)
