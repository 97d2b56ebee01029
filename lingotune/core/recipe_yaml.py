"""Reading recipe YAML and reporting what is wrong with it as ``file:line: key: problem``.

Every section's spec is a pydantic model beside the code that uses it; this module only turns
YAML into a tree (with ``key=value`` overrides applied first, so they are validated the same way)
and validation errors into lines a user can act on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from lingotune.core.errors import RecipeError

# Keys whose value picks a spec out of a union (merge methods, data builders, evaluation task kinds);
# pydantic puts the chosen tag into an error's path, which is not a key the user wrote.
DISCRIMINATORS = {"method": None, "builder": "as_is", "kind": None}


def apply_overrides(tree: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """``train.learning_rate=1e-4`` or ``eval.tasks.0.max_items=10``; values are parsed as YAML."""
    for override in overrides:
        key, sep, raw = override.partition("=")
        if not sep or not key:
            raise RecipeError(f"override {override!r}: expected key=value, e.g. train.learning_rate=1e-4")
        parts = key.split(".")
        node: Any = tree
        for depth, part in enumerate(parts[:-1]):
            child = node[int(part)] if isinstance(node, list) else node.get(part)
            if child is None:
                child = {}
                node[part] = child
            if not isinstance(child, dict | list):
                raise RecipeError(f"override {override!r}: {'.'.join(parts[: depth + 1])} is not a section")
            node = child
        value = yaml.safe_load(raw)
        if isinstance(node, list):
            node[int(parts[-1])] = value
        else:
            node[parts[-1]] = value
    return tree


def line_of(root: yaml.Node | None, loc: tuple[Any, ...]) -> int | None:
    """The 1-based line of the deepest YAML node on the path ``loc``."""
    if root is None:
        return None
    node, line = root, root.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == part), None)
            if match is None:
                break
            node, line = match[1], match[0].start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def describe(error: dict[str, Any]) -> str:
    loc = ".".join(str(p) for p in error["loc"])
    if error["type"] == "extra_forbidden":
        return f"unknown key {loc!r}"
    got = error.get("input")
    shown = "" if isinstance(got, dict | list) else f" (got {got!r})"
    return f"{loc or 'recipe'}: {error['msg']}{shown}"


def user_path(loc: tuple[Any, ...], tree: Any) -> tuple[Any, ...]:
    """``loc`` without the union tags pydantic inserts, found by walking the input tree: a tag
    follows a mapping whose discriminator key has that value (or its default when absent)."""
    kept: list[Any] = []
    node = tree
    for part in loc:
        if isinstance(node, dict) and isinstance(part, str) and part not in node and any(
                node.get(key, default) == part for key, default in DISCRIMINATORS.items()):
            continue  # the tag: stay on the same node
        kept.append(part)
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            node = None
    return tuple(kept)


def _node_at(tree: Any, loc: tuple[Any, ...]) -> Any:
    for part in loc:
        if isinstance(tree, dict):
            tree = tree.get(part)
        elif isinstance(tree, list) and isinstance(part, int) and part < len(tree):
            tree = tree[part]
        else:
            return None
    return tree


def _unknown_tag(error: dict[str, Any], loc: tuple[Any, ...], tree: Any) -> tuple[tuple[Any, ...], str] | None:
    """An unknown ``builder:`` / ``kind:`` / ``method:``: point at that key and list the registered names."""
    if error["type"] not in ("union_tag_invalid", "union_tag_not_found"):
        return None
    node = _node_at(tree, loc)
    key = next((k for k in DISCRIMINATORS if isinstance(node, dict) and k in node), None)
    if key is None:
        return None
    expected = error.get("ctx", {}).get("expected_tags", "")
    return (*loc, key), f"{'.'.join(map(str, (*loc, key)))}: {node[key]!r} is not one of {expected}"


def error_lines(exc: ValidationError, root: yaml.Node | None, path: Path | str, tree: Any = None,
                prefix: tuple[Any, ...] = ()) -> list[str]:
    """``file:line: key: problem`` for each validation error, keys as the user wrote them."""
    lines = []
    for error in exc.errors():
        loc = prefix + user_path(tuple(error["loc"]), tree)
        tag = _unknown_tag(error, loc, tree)
        loc, text = tag if tag else (loc, describe(error | {"loc": loc}))
        lines.append(f"{path}:{line_of(root, loc) or '?'}: {text}")
    return list(dict.fromkeys(lines))


def read_recipe_tree(path: Path, overrides: list[str] | None = None) -> tuple[dict[str, Any], yaml.Node | None]:
    """The recipe's YAML with overrides applied, and its node tree (for line numbers in errors)."""
    if not path.exists():
        raise RecipeError(f"recipe {path} does not exist")
    text = path.read_text(encoding="utf-8")
    try:
        tree = yaml.safe_load(text) or {}
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        raise RecipeError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(tree, dict):
        raise RecipeError(f"{path}: a recipe is a YAML mapping (key: value), got {type(tree).__name__}")
    return apply_overrides(tree, overrides or []), root


def resolve_file(value: str, recipe_path: Path, where: str, root: yaml.Node | None = None,
                 loc: tuple[Any, ...] = ()) -> str:
    """A data path as written in a recipe: absolute, or relative to the recipe's folder, the working
    directory or the lingotune checkout (in that order); must exist."""
    from lingotune.core.paths import repo_root

    candidate = Path(value).expanduser()
    options = [candidate] if candidate.is_absolute() else [
        recipe_path.parent / candidate, Path.cwd() / candidate, repo_root() / candidate]
    for option in options:
        if option.exists():
            return str(option.resolve())
    line = line_of(root, loc) if loc else None
    at = f"{recipe_path}:{line}" if line else f"{recipe_path}"
    raise RecipeError(f"{at}: {where}: file {value!r} not found (looked in {[str(o) for o in options]})")
