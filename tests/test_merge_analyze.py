"""Update-magnitude analysis (the evidence layer swapping chose layers from, methods.md §3.2) and the CLI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from lingotune.cli.merge import merge_app
from lingotune.merge.analyze import analyze_updates
from tests.merge_fixtures import block, build_base, make_expert


@pytest.fixture(scope="module")
def experts(tmp_path_factory):
    root = tmp_path_factory.mktemp("analyze")
    base = build_base(root, 8)
    # language expert: changed only blocks 0-1 and 7; task expert: only the other blocks
    lang_blocks = {0, 1, 7}
    lang = make_expert(base, root / "lang", seed=7, where=lambda n: block(n) in lang_blocks, scale=0.05)
    task = make_expert(base, root / "task", seed=8, scale=0.05,
                       where=lambda n: block(n) not in lang_blocks and block(n) is not None)
    return root, base, lang, task


def test_suggestion_recovers_the_language_layers(experts):
    _, base, lang, task = experts
    analysis = analyze_updates(str(base), [str(lang), str(task)])
    assert analysis.suggestion == {"bottom": 2, "top": 1}
    assert "q_proj" in analysis.module_types and len(analysis.per_module[str(lang)]) == 8
    assert analysis.per_block[str(lang)][0] > 0 and analysis.per_block[str(lang)][3] == 0
    single = analyze_updates(str(base), [str(lang)])
    assert single.suggestion == {"bottom": 2, "top": 1}


def test_cli_analyze_writes_table_json_and_heatmap(experts, tmp_path):
    _, base, lang, task = experts
    result = CliRunner().invoke(merge_app, ["analyze", str(base), str(lang), str(task), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "suggested layer swap: bottom=2 top=1" in result.output
    assert (tmp_path / "update_magnitudes.png").stat().st_size > 1000
    assert json.loads((tmp_path / "update_magnitudes.json").read_text())["suggestion"] == {"bottom": 2, "top": 1}


def test_cli_merge_recipe_shorthand(experts, tmp_path):
    _, _, lang, task = experts
    recipe = tmp_path / "swap.yaml"
    recipe.write_text(f"name: swap\nmerge:\n  method: layer_swap\n  language_expert: {lang}\n  task_expert: {task}\n"
                      f"  bottom: 2\n  top: 1\n")
    result = CliRunner().invoke(merge_app, [str(recipe), f"output_dir={tmp_path / 'run'}"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / "model" / "model.safetensors").exists()
    assert (tmp_path / "run" / "mergekit_config.yaml").exists()
    bad = CliRunner().invoke(merge_app, [str(recipe), "merge.top=9"])
    assert bad.exit_code == 2 and "= 13 blocks" in bad.output
