"""Names for the models a modular recipe makes: ``base``, ``expert:NAME``, ``variant:NAME``.

A modular recipe (methods.md §3) trains experts and merges them into variants inside one run, so
its merges cannot name folders that do not exist yet. Wherever a merge takes a model (and in an
expert's ``freeze.reference``) the recipe writes one of these names instead; they are checked when
the recipe is loaded (unknown name, a variant used before it is built) and replaced by the run's
folders just before each merge runs.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from lingotune.merge.config import map_model_sources

if TYPE_CHECKING:
    from lingotune.config import ExpertSpec, VariantSpec

BASE = "base"
KINDS = ("expert", "variant")
RESERVED = {BASE, "final"}  # stage names the run's own evaluations use


class ReferenceProblem(ValueError):
    """A bad name; ``loc`` is the recipe key path, so the loader can give the file line."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(f"{'.'.join(map(str, loc))}: {message}")
        self.loc = loc


def parse_reference(value: str) -> tuple[str, str] | None:
    """``("base", "")``, ``("expert", NAME)``, ``("variant", NAME)``, or None for an ordinary model source."""
    if value == BASE:
        return BASE, ""
    kind, sep, name = value.partition(":")
    return (kind, name) if sep and kind in KINDS and name else None


def is_reference(value: str) -> bool:
    return parse_reference(value) is not None


def check_references(experts: list[ExpertSpec], variants: list[VariantSpec]) -> None:
    """Unique names; every reference names the base, an expert, or a variant defined above it."""
    named = [(("experts", i, "name"), e.name) for i, e in enumerate(experts)]
    named += [(("variants", i, "name"), v.name) for i, v in enumerate(variants)]
    seen: set[str] = set()
    for loc, name in named:
        if name in RESERVED:
            raise ReferenceProblem(loc, f"{name!r} is reserved for the run's own evaluations; choose another name")
        if name in seen:
            raise ReferenceProblem(loc, f"{name!r} is already the name of an expert or variant above")
        seen.add(name)
    known_experts = {e.name for e in experts}
    built: set[str] = set()

    def check(loc: tuple[str | int, ...], value: str) -> str:
        ref = parse_reference(value)
        if ref is None or ref[0] == BASE:
            return value
        kind, name = ref
        if kind == "expert" and name not in known_experts:
            raise ReferenceProblem(loc, f"no expert named {name!r} (experts: {sorted(known_experts)})")
        if kind == "variant" and name not in built:
            raise ReferenceProblem(loc, f"{value!r} must name a variant listed above this one (built so far: "
                                   f"{sorted(built)})")
        return value

    for index, expert in enumerate(experts):
        reference = expert.freeze.reference if expert.freeze is not None else None
        ref = parse_reference(reference) if reference else None
        if ref is not None and (ref[0] != "expert" or ref[1] not in {e.name for e in experts[:index]}):
            raise ReferenceProblem(("experts", index, "freeze", "reference"),
                                   f"{reference!r} must name an expert listed above this one (expert:NAME, trained "
                                   "first)")
    for index, variant in enumerate(variants):
        where = ("variants", index, "merge")
        map_model_sources(variant.merge, lambda key, value, w=where: check((*w, *_key_path(key)), value))
        built.add(variant.name)


def _key_path(key: str) -> tuple[str | int, ...]:
    return tuple(int(part) if part.isdigit() else part for part in key.split("."))


def substitute(spec, resolve: Callable[[str, str], str]):
    """A copy of the merge spec with every reference replaced by ``resolve(kind, name)``."""
    copy = spec.model_copy(deep=True)

    def fix(_: str, value: str) -> str:
        ref = parse_reference(value)
        return value if ref is None else resolve(*ref)

    map_model_sources(copy, fix)
    return copy
