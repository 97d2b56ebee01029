"""The run plan: steps per recipe shape, ``--dry-run``, and every recipe error found before any model loads."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lingotune.cli import app
from lingotune.core.errors import RecipeError
from lingotune.data.recipe_builders import BUILDERS
from lingotune.eval.tasks import TASK_KINDS
from lingotune.plan import check_recipe, load_recipe, plan

REPO = Path(__file__).resolve().parent.parent
ASSETS = REPO / "tests" / "assets"
DATA = REPO / "data" / "quickstart"
runner = CliRunner()
NO_MODEL = "model.source=/nonexistent/model-folder"  # resolving it would fail: errors must come first


def invoke(*args: str):
    result = runner.invoke(app, list(args), env={"COLUMNS": "200"})
    assert "Traceback" not in result.output, result.output
    return result, " ".join(result.output.split())


def recipe_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(text.replace("DATA/", f"{DATA}/"))
    return path


BASIC = """name: broken
language: es
data:
  sources:
    - name: qa
      path: DATA/xquad/xquad.es.train.json
      format: squad
      language: es
      builder: extractive_qa
train: {max_steps: 1}
"""


@pytest.mark.parametrize(("recipe", "steps"), [
    ("tiny.yaml", ["eval:base", "train", "eval:final", "report"]),
    ("tiny_phases.yaml", ["eval:base", "phase:principles", "eval:principles", "phase:parameters", "eval:final",
                          "report"]),
    ("tiny_modular.yaml", ["eval:base", "expert:language", "eval:language", "expert:task", "eval:task",
                           "expert:task_frozen", "variant:layer_swap", "eval:layer_swap", "variant:task_reverted",
                           "variant:ties", "eval:ties", "analyze", "report"]),
])
def test_plan_lists_steps_in_dependency_order(recipe, steps):
    assert [s.name for s in plan(load_recipe(ASSETS / recipe)).steps] == steps


def test_an_experts_translation_is_named_after_the_expert():
    steps = plan(load_recipe(REPO / "recipes" / "code_multilingual.yaml")).steps
    first = steps[0]
    assert first.name == "translate:code_es_translated-mbpp_train_es"
    assert first.writes.name == "code_es_translated-mbpp_train_es" and first.writes.parent.name == "translate"


@pytest.mark.slow
def test_every_shipped_recipe_dry_runs(smollm2, tmp_path):
    for recipe in sorted((REPO / "recipes").glob("*.yaml")):
        out_dir = tmp_path / recipe.stem
        result, out = invoke("run", str(recipe), "--dry-run", f"output_dir={out_dir}")
        assert result.exit_code == 0, f"{recipe.name}: {out[-2000:]}"
        assert "Plan for" in out and "eval:base" in out and "recipe checked" in out, recipe.name
        assert "Over max_length" in out, recipe.name  # lengths counted with the tokenizer
        assert not out_dir.exists(), recipe.name  # a dry run writes nothing


def test_dry_run_counts_examples_over_max_length(tiny_model, tmp_path):
    result, out = invoke("run", str(ASSETS / "tiny.yaml"), "--dry-run", f"output_dir={tmp_path / 'run'}",
                         "train.max_length=128")
    assert result.exit_code == 0, out
    assert "Over max_length" in out and "> 128" in out
    assert not (tmp_path / "run").exists()  # nothing written, nothing run


def test_the_check_counts_the_examples_training_leaves_out(smollm2):
    """The check's one-call length count agrees with what training's tokenisation drops, per source."""
    from lingotune.models.loading import load_tokenizer
    from lingotune.plan.check import check_data, count_too_long
    from lingotune.train.tokenize import tokenize_examples

    result = check_data(load_recipe(REPO / "recipes" / "quickstart.yaml"))
    tokenizer = load_tokenizer(smollm2, padding_side="right")
    for check, _ in result.built:
        check.max_length = 200
    count_too_long(result, tokenizer)
    counted = [check.too_long for check, _ in result.built]
    assert sum(counted) > 20 and min(counted) < max(counted)
    assert counted == [tokenize_examples(tokenizer, examples, 200)[1] for _, examples in result.built]


def test_broken_data_record_fails_before_any_model(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"instruction": "a", "output": "b"}\n{"instruction": 3, "output": "x"}\n')
    path = recipe_file(tmp_path, BASIC + f"""eval:
  tasks:
    - {{name: t, kind: fidelity, path: {bad}, format: alpaca, language: es}}
""")
    result, out = invoke("run", str(path), NO_MODEL)
    assert result.exit_code == 2
    assert f"{path}:13: eval.tasks.0" in out and "bad.jsonl:2" in out
    assert "nonexistent" not in out  # the model was never resolved


def test_missing_builder_field_names_file_line_and_key(tmp_path):
    path = recipe_file(tmp_path, BASIC.replace("builder: extractive_qa", "builder: xcit_chat"))
    with pytest.raises(RecipeError) as error:
        load_recipe(path)
    assert f"{path}:5: data.sources.0.english_path: Field required" in str(error.value)


def test_builder_field_of_another_builder_is_an_unknown_key(tmp_path):
    path = recipe_file(tmp_path, BASIC.replace("builder: extractive_qa", "builder: extractive_qa\n      cue: hola"))
    with pytest.raises(RecipeError, match=r"recipe.yaml:10: unknown key 'data.sources.0.cue'"):
        load_recipe(path)


def test_unknown_builder_and_task_kind_list_the_registered_names(tmp_path):
    path = recipe_file(tmp_path, BASIC.replace("builder: extractive_qa", "builder: extractive"))
    with pytest.raises(RecipeError, match="recipe.yaml:9: data.sources.0.builder: 'extractive' is not one of"):
        load_recipe(path)
    kind = recipe_file(tmp_path, BASIC + "eval:\n  tasks:\n    - {name: t, kind: qaa, path: x, language: es}\n")
    with pytest.raises(RecipeError, match="recipe.yaml:13: eval.tasks.0.kind: 'qaa' is not one of .*'fidelity'"):
        load_recipe(kind)


def test_duplicate_source_names_fail_at_load(tmp_path):
    twice = BASIC.replace("train:", """    - name: qa
      path: DATA/xquad/xquad.es.train.json
      format: squad
      language: es
train:""")
    with pytest.raises(RecipeError, match=r"recipe.yaml:\d+: data: .*\['qa'\] used more than once"):
        load_recipe(recipe_file(tmp_path, twice))


def test_unknown_reference_fails_before_any_model(tmp_path):
    text = (ASSETS / "tiny_modular.yaml").read_text().replace("../../data/", f"{REPO / 'data'}/")
    path = tmp_path / "modular.yaml"
    path.write_text(text.replace('language_expert: "expert:language"', 'language_expert: "expert:nope"'))
    result, out = invoke("run", str(path), NO_MODEL)
    assert result.exit_code == 2 and "no expert named 'nope'" in out and f"{path}:" in out


def test_bad_template_fails_in_the_check_with_the_source_line(tmp_path):
    path = recipe_file(tmp_path, BASIC.replace("builder: extractive_qa",
                                               "builder: extractive_qa\n      prompt_template: '{questoin}'"))
    with pytest.raises(RecipeError) as error:
        check_recipe(load_recipe(path), tokenizer=False)
    assert f"{path}:5: data.sources.0" in str(error.value) and "{questoin}" in str(error.value)


def test_a_run_merge_may_not_name_an_expert(tmp_path):
    path = recipe_file(tmp_path, BASIC + 'merge: {method: linear, models: [{model: "expert:x"}, {model: base}]}\n')
    with pytest.raises(RecipeError, match=r"recipe.yaml:11: .*experts and variants belong to a modular recipe"):
        load_recipe(path)


def test_registries_hold_every_yaml_name():
    assert set(BUILDERS) == {"as_is", "extractive_qa", "long_answer", "translation", "xcit_monolingual", "xcit_chat",
                             "xcit_both", "plug", "system_prompt", "crossalpaca", "classification"}
    assert set(TASK_KINDS) == {"qa", "translation", "fidelity", "reference_chrf", "classification", "code",
                               "codemix_generation", "exact_match"}
    for name, spec in BUILDERS.items():
        assert spec.builder_name == name
    for name, spec in TASK_KINDS.items():
        assert spec.kind_name == name


def test_import_layers_contract_is_kept():
    done = subprocess.run([str(Path(sys.executable).parent / "lint-imports"), "--no-cache"], cwd=REPO,
                          capture_output=True, text=True, env={**os.environ})
    assert done.returncode == 0, done.stdout[-3000:]
    assert "0 broken" in done.stdout


def test_run_info_is_a_typed_record(tiny_model, tmp_path):
    from lingotune.core.run_record import RunRecord

    done = subprocess.run([sys.executable, "-m", "lingotune.cli", "run", str(ASSETS / "tiny.yaml"),
                           f"output_dir={tmp_path / 'r'}", "eval=null", "train.max_steps=2"],
                          capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    raw = json.loads((tmp_path / "r" / "run_info.json").read_text())
    record = RunRecord.model_validate(raw)
    assert record.finished and record.steps_done == ["train"] and record.train_tokens and record.train_tokens > 0
    assert (tmp_path / "r" / "steps" / "train.json").is_file()


def test_broken_training_source_fails_before_any_model(tmp_path):
    bad = tmp_path / "train.jsonl"
    bad.write_text('{"instruction": "a", "output": "b"}\nnot json\n')
    source = f"    - {{name: mine, path: {bad}, format: alpaca, language: es}}\n"
    path = recipe_file(tmp_path, BASIC.replace("train:", source + "train:"))
    result, out = invoke("run", str(path), NO_MODEL)
    assert result.exit_code == 2
    assert f"{path}:10: data.sources.1" in out and "train.jsonl:2" in out and "nonexistent" not in out
