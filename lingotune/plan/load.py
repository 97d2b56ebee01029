"""Reading a recipe file: YAML → validated ``Recipe`` with every file path resolved and every model
reference checked, each problem reported as ``file:line: key: problem`` before any work starts."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from lingotune.core.errors import RecipeError
from lingotune.core.recipe_yaml import error_lines, line_of, read_recipe_tree, resolve_file
from lingotune.merge.config import resolve_relative_sources
from lingotune.plan.recipe import Recipe
from lingotune.plan.references import ReferenceProblem, check_references, check_run_merge


def load_recipe(path: str | Path, overrides: list[str] | None = None, *, unsafe_exec: bool = False) -> Recipe:
    """``unsafe_exec``: the CLI's ``--unsafe-exec``, set on every ``code`` task before validation (a task with
    ``isolation: none`` is refused without it)."""
    path = Path(path)
    tree, root = read_recipe_tree(path, overrides)
    if unsafe_exec:
        _allow_unsafe_exec(tree, path)
    try:
        recipe = Recipe.model_validate(tree)
    except ValidationError as exc:
        raise RecipeError("invalid recipe\n" + "\n".join(error_lines(exc, root, path, tree))) from None
    recipe._path, recipe._root = path, root
    _check_references(recipe, root, path)
    _resolve_paths(recipe, path, root)
    for merge in [recipe.merge, *(v.merge for v in recipe.variants or [])]:
        if merge is not None:
            resolve_relative_sources(merge, path.parent)
    return recipe


def _allow_unsafe_exec(tree: dict[str, Any], path: Path) -> None:
    listed = (tree.get("eval") or {}).get("tasks") or []
    tasks = [t for t in listed if isinstance(t, dict) and t.get("kind") == "code"]
    if not tasks:
        raise RecipeError(f"{path}: --unsafe-exec is for code tasks (kind: code), and this recipe has none")
    for task in tasks:
        task["unsafe_exec"] = True


def _check_references(recipe: Recipe, root: yaml.Node | None, path: Path) -> None:
    try:
        check_references(recipe.experts or [], recipe.variants or [])
        check_run_merge(recipe.merge, [p.name for p in recipe.phases or []])
    except ReferenceProblem as problem:
        raise RecipeError(f"invalid recipe\n{path}:{line_of(root, problem.loc) or '?'}: {problem}") from None


def _file_entries(recipe: Recipe) -> list[tuple[Any, tuple[Any, ...]]]:
    """(spec holding file fields, its recipe key path) for every data source and eval task."""
    entries: list[tuple[Any, tuple[Any, ...]]] = [
        (s, (*loc, "sources", i)) for _, loc, data in recipe.data_sections() for i, s in enumerate(data.sources)]
    if recipe.eval:
        entries += [(t, ("eval", "tasks", i)) for i, t in enumerate(recipe.eval.tasks)]
    return entries


def _resolve_paths(recipe: Recipe, path: Path, root: yaml.Node | None) -> None:
    for item, loc in _file_entries(recipe):
        fields = item.file_fields() if hasattr(item, "file_fields") else ["path"]
        for dotted in fields:  # "path", or a nested one: "translate.few_shot.path"
            *parents, name = dotted.split(".")
            holder = item
            for parent in parents:
                holder = getattr(holder, parent)
            value = getattr(holder, name)
            keys = (*loc, *parents, name)
            paths = value if isinstance(value, list) else value.split("|")
            resolved = [resolve_file(p, path, ".".join(map(str, keys)), root, keys) for p in paths]
            setattr(holder, name, resolved if len(resolved) > 1 else resolved[0])
    judge = recipe.eval.judge if recipe.eval else None
    for attr in ("questions", "reference_answers", "answers", "judge_prompts", "baseline_answers"):
        value = getattr(judge, attr, None)
        if value and not value.startswith("stage:"):
            loc = ("eval", "judge", attr)
            setattr(judge, attr, resolve_file(value, path, f"eval.judge.{attr}", root, loc))


def dump_recipe(recipe: Recipe) -> str:
    return yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False, allow_unicode=True)
