"""Checks on the names a modular recipe gives its models: ``base``, ``expert:NAME``, ``variant:NAME``.

They are checked when the recipe is loaded (unknown name, a variant used before it is built, an
expert's freeze reference to a later expert); the run plan replaces them by the run's folders just
before each merge (``merge.references.substitute``).
"""

from __future__ import annotations

from lingotune.merge.references import BASE, map_model_sources, parse_reference
from lingotune.plan.recipe import ExpertSpec, VariantSpec

RESERVED = {BASE, "final"}  # stage names the run's own evaluations use


class ReferenceProblem(ValueError):
    """A bad name; ``loc`` is the recipe key path, so the loader can give the file line."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        super().__init__(f"{'.'.join(map(str, loc))}: {message}")
        self.loc = loc


def _check_names(experts: list[ExpertSpec], variants: list[VariantSpec]) -> None:
    named = [(("experts", i, "name"), e.name) for i, e in enumerate(experts)]
    named += [(("variants", i, "name"), v.name) for i, v in enumerate(variants)]
    seen: set[str] = set()
    for loc, name in named:
        if name in RESERVED:
            raise ReferenceProblem(loc, f"{name!r} is reserved for the run's own evaluations; choose another name")
        if name in seen:
            raise ReferenceProblem(loc, f"{name!r} is already the name of an expert or variant above")
        seen.add(name)


def _check_freeze(experts: list[ExpertSpec]) -> None:
    for index, expert in enumerate(experts):
        reference = expert.freeze.reference if expert.freeze is not None else None
        ref = parse_reference(reference) if reference else None
        if ref is not None and (ref[0] != "expert" or ref[1] not in {e.name for e in experts[:index]}):
            raise ReferenceProblem(("experts", index, "freeze", "reference"),
                                   f"{reference!r} must name an expert listed above this one (expert:NAME, trained "
                                   "first)")


def check_references(experts: list[ExpertSpec], variants: list[VariantSpec]) -> None:
    """Unique names; every reference names the base, an expert, or a variant defined above it."""
    _check_names(experts, variants)
    _check_freeze(experts)
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

    for index, variant in enumerate(variants):
        where = ("variants", index, "merge")
        map_model_sources(variant.merge, lambda key, value, w=where: check((*w, *_key_path(key)), value))
        built.add(variant.name)


def check_run_merge(merge, phases: list[str]) -> None:
    """A run's own ``merge:`` may name ``base`` and the phases trained before it (``phase:NAME``)."""
    if merge is None:
        return

    def check(key: str, value: str) -> str:
        ref = parse_reference(value)
        if ref is not None and ref[0] != BASE and not (ref[0] == "phase" and ref[1] in phases):
            raise ReferenceProblem(("merge", *_key_path(key)),
                                   f"{value!r}: a run's merge can name base or phase:NAME of its phases "
                                   f"({sorted(phases)}); experts and variants belong to a modular recipe")
        return value

    map_model_sources(merge, check)


def _key_path(key: str) -> tuple[str | int, ...]:
    return tuple(int(part) if part.isdigit() else part for part in key.split("."))
