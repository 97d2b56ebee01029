"""Modular recipes (experts → merged variants → one comparison): the tiny random model through the
real CLI, the tensors each variant must hold, resuming, and recipe errors with file lines."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

from lingotune.core.errors import RecipeError
from lingotune.plan import load_recipe
from tests.merge_fixtures import block, tensors
from tests.test_run_tiny import lingotune, run_in_tmp

REPO = Path(__file__).resolve().parent.parent
TINY_MODULAR = REPO / "tests" / "assets" / "tiny_modular.yaml"
LANGUAGE_BLOCKS = {0, 3}  # the tiny model has 4 blocks; the recipe gives the language expert 0 and 3


@pytest.fixture(scope="module")
def modular_run(tmp_path_factory, tiny_model) -> Path:
    return run_in_tmp(tmp_path_factory, TINY_MODULAR)


def test_every_expert_and_evaluated_variant_is_a_stage(modular_run):
    info = json.loads((modular_run / "run_info.json").read_text())
    assert info["finished"]
    assert info["stages"] == ["base", "language", "task", "layer_swap", "ties"]
    assert sorted(info["experts"]) == ["language", "task", "task_frozen"]
    assert info["experts"]["task_frozen"]["frozen"] == "layers=[0, 3]"
    assert sorted(info["variants"]) == ["layer_swap", "task_reverted", "ties"]
    assert sorted(p.name for p in (modular_run / "eval").iterdir()) == sorted(info["stages"])
    phases = {json.loads(line).get("phase") for line in (modular_run / "metrics.jsonl").read_text().splitlines()}
    assert {"language", "task", "task_frozen"} <= phases


def _model(run_dir: Path, kind: str, name: str) -> dict[str, torch.Tensor]:
    return tensors(run_dir / kind / name / "model")


def test_variants_hold_the_expected_tensors(modular_run, tiny_model):
    base = tensors(Path(tiny_model.path))
    language, task = _model(modular_run, "experts", "language"), _model(modular_run, "experts", "task")
    frozen = _model(modular_run, "experts", "task_frozen")
    swapped = _model(modular_run, "variants", "layer_swap")
    reverted = _model(modular_run, "variants", "task_reverted")
    changed = [n for n in base if block(n) is not None and not torch.equal(task[n], base[n])]
    assert changed, "the task expert's training changed nothing: the test would prove nothing"
    for name, value in base.items():
        b = block(name)
        if b is None:
            continue
        donor = language if b in LANGUAGE_BLOCKS else task
        torch.testing.assert_close(swapped[name], donor[name], rtol=0, atol=0, msg=name)
        if b in LANGUAGE_BLOCKS:  # frozen before training / reverted after: both equal the base there
            torch.testing.assert_close(frozen[name], value, rtol=0, atol=0, msg=name)
            torch.testing.assert_close(reverted[name], value, rtol=0, atol=0, msg=name)
        else:
            torch.testing.assert_close(reverted[name], task[name], rtol=0, atol=0, msg=name)
    assert any(not torch.equal(frozen[n], base[n]) for n in base if block(n) not in LANGUAGE_BLOCKS | {None})


def test_merges_name_the_run_folders_in_their_mergekit_yaml(modular_run):
    text = (modular_run / "variants" / "ties" / "mergekit_config.yaml").read_text()
    assert "expert:" not in text and "variant:" not in text
    assert str(modular_run / "experts" / "language" / "model") in text
    assert str(modular_run / "variants" / "task_reverted" / "model") in text


def test_report_compares_all_stages(modular_run):
    report = (modular_run / "report.md").read_text()
    for heading in ("## Results", "## Best per metric", "## Experts", "## Variants", "## Training loss",
                    "## Where the experts changed the model"):
        assert heading in report, heading
    assert "layer_swap vs base" in report and "ties vs base" in report
    assert "| task_reverted | revert |" in report and "no (building block)" in report
    assert (modular_run / "analysis" / "update_magnitudes.png").stat().st_size > 1000
    assert "<img" in (modular_run / "report.html").read_text()


def test_resume_skips_finished_work_and_report_command_rebuilds(modular_run):
    (modular_run / "report.md").unlink()
    before = json.loads((modular_run / "run_info.json").read_text())
    done = lingotune("run", str(TINY_MODULAR), f"output_dir={modular_run}", "train.resume=true")
    assert done.returncode == 0, done.stderr[-3000:]
    out = " ".join((done.stdout + done.stderr).split())
    assert len(re.findall(r"expert:\S+: already done, skipped", out)) == 3
    assert len(re.findall(r"variant:\S+: already done, skipped", out)) == 3
    after = json.loads((modular_run / "run_info.json").read_text())
    assert after["wall_time_s"] > before["wall_time_s"]  # the resumed run's time adds to the first's
    assert after["experts"] == before["experts"] and after["stages"] == before["stages"]
    assert "## Variants" in (modular_run / "report.md").read_text()
    (modular_run / "report.md").unlink()
    assert lingotune("report", str(modular_run)).returncode == 0
    assert "## Experts" in (modular_run / "report.md").read_text()


def _variant_recipe(tmp_path: Path, old: str, new: str) -> Path:
    text = TINY_MODULAR.read_text()
    assert old in text, old
    path = tmp_path / "recipe.yaml"
    path.write_text(text.replace(old, new).replace("../../data/", str(REPO / "data") + "/"))
    return path


@pytest.mark.parametrize(("old", "new", "message", "needle"), [
    ('language_expert: "expert:language"', 'language_expert: "expert:lang"', "no expert named 'lang'",
     '"expert:lang"'),
    ('{model: "variant:task_reverted"}', '{model: "variant:ties"}', "must name a variant listed above",
     '"variant:ties"'),
    ("  - name: task_frozen", "  - name: base", "'base' is reserved", "- name: base"),
    ("  - name: ties", "  - name: layer_swap", "already the name of an expert or variant", "- name: layer_swap\n"),
    ("freeze: {layers: [0, 3]}", 'freeze: {layers: [0, 3], keep_fraction: 0.5, reference: "expert:task_frozen"}',
     "must name an expert listed above", "keep_fraction"),
])
def test_bad_references_name_file_and_line(tmp_path, old, new, message, needle):
    path = _variant_recipe(tmp_path, old, new)
    with pytest.raises(RecipeError) as error:
        load_recipe(path)
    text = str(error.value)
    assert message in text
    lines = [i for i, line in enumerate(path.read_text().splitlines(keepends=True), 1) if needle in line]
    assert f"{path}:{lines[-1]}:" in text


def test_modular_recipe_refuses_a_top_level_data_section(tmp_path):
    path = _variant_recipe(tmp_path, "experts:\n", "data: {sources: [{name: x, path: recipe.yaml, language: es}]}\n"
                                                   "experts:\n")
    with pytest.raises(RecipeError, match="remove \\['data'\\]"):
        load_recipe(path)


def test_shipped_modular_recipe_validates():
    recipe = load_recipe(REPO / "recipes" / "modular.yaml")
    assert [e.name for e in recipe.experts] == ["language", "task", "language_frozen", "task_frozen"]
    assert [v.name for v in recipe.variants if v.evaluate] == ["layer_swap", "layer_swap_analyzed", "revert", "freeze",
                                                              "ties"]


def test_merge_command_points_a_modular_recipe_to_run():
    done = lingotune("merge", str(TINY_MODULAR))
    assert done.returncode == 2 and "lingotune run" in " ".join(done.stderr.split())
