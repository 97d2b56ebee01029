from pathlib import Path

import pytest

from lingotune.core.errors import RecipeError
from lingotune.plan import load_recipe

REPO = Path(__file__).resolve().parent.parent


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(text)
    return path


def test_quickstart_recipe_validates_and_resolves_paths():
    recipe = load_recipe(REPO / "recipes" / "quickstart.yaml")
    assert recipe.model.source == "smollm2-135m-instruct"
    assert all(Path(s.path).is_file() for s in recipe.data.sources)
    assert all(Path(t.path).is_file() for t in recipe.eval.tasks)


def test_unknown_key_names_key_file_and_line(tmp_path):
    path = write(tmp_path, "name: x\nlanguage: es\ntrain:\n  learning_rat: 0.1\n")
    with pytest.raises(RecipeError) as error:
        load_recipe(path)
    message = str(error.value)
    assert f"{path}:4: unknown key 'train.learning_rat'" in message


def test_wrong_type_names_key_and_line(tmp_path):
    path = write(tmp_path, "name: x\nlanguage: es\ntrain:\n  method: lora\n  batch_size: eight\n")
    with pytest.raises(RecipeError) as error:
        load_recipe(path)
    assert f"{path}:5: train.batch_size" in str(error.value)
    assert "'eight'" in str(error.value)


def test_bad_language_code_rejected(tmp_path):
    path = write(tmp_path, "name: x\nlanguage: Spanish\n")
    with pytest.raises(RecipeError, match="language"):
        load_recipe(path)


def test_any_language_code_is_accepted(tmp_path):
    for code in ("sw", "yor", "zh-Hans", "pt-BR"):
        assert load_recipe(write(tmp_path, f"name: x\nlanguage: {code}\n")).language == code


def test_overrides_are_typed_and_validated(tmp_path):
    path = write(tmp_path, "name: x\nlanguage: es\ntrain:\n  learning_rate: 0.1\n")
    recipe = load_recipe(path, ["train.learning_rate=1e-4", "train.max_steps=3", "seed=7"])
    assert recipe.train.learning_rate == pytest.approx(1e-4)
    assert recipe.train.max_steps == 3 and recipe.seed == 7
    with pytest.raises(RecipeError, match="unknown key 'train.nope'"):
        load_recipe(path, ["train.nope=1"])
    with pytest.raises(RecipeError, match="expected key=value"):
        load_recipe(path, ["train.max_steps"])


def test_missing_data_file_is_named(tmp_path):
    path = write(
        tmp_path,
        "name: x\nlanguage: es\ndata:\n  sources:\n    - {name: a, path: nowhere.jsonl, language: es}\n",
    )
    with pytest.raises(RecipeError, match=r"data.sources.0.path: file 'nowhere.jsonl' not found"):
        load_recipe(path)
