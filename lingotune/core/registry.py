"""YAML name → spec class, for every component a recipe picks by name (data builders by ``builder:``,
evaluation task kinds by ``kind:``). The name is the literal of the spec's discriminator field, so the
schema and the registry cannot disagree."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, TypeVar

from pydantic import BaseModel

Spec = TypeVar("Spec", bound=type[BaseModel])


class Registry(Generic[Spec]):
    def __init__(self, what: str, field: str, attribute: str) -> None:
        self.what, self.field, self.attribute = what, field, attribute
        self._specs: dict[str, Spec] = {}

    def register(self, cls: Spec) -> Spec:
        """Class decorator: ``cls.<field>: Literal["name"]`` is its YAML name, also set as ``cls.<attribute>``."""
        name = cls.model_fields[self.field].annotation.__args__[0]  # type: ignore[union-attr]
        if name in self._specs:
            raise ValueError(f"{self.what} {name!r} is registered twice")
        setattr(cls, self.attribute, name)
        self._specs[name] = cls
        return cls

    def __getitem__(self, name: str) -> Spec:
        return self._specs[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._specs)

    def __len__(self) -> int:
        return len(self._specs)

    def items(self):
        return self._specs.items()

    def values(self):
        return self._specs.values()
