"""``eval.server``: answers generated through an OpenAI-compatible server (lingotune's own, ``transformers
serve``) started on the evaluated model, against the same evaluation run in-process."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.test_run_tiny import TINY, lingotune


def _records(run_dir, task):
    return [json.loads(x) for x in (run_dir / "eval" / "base" / f"{task}.jsonl").read_text().splitlines()]


@pytest.mark.slow
def test_server_generation_matches_in_process_and_reruns_from_cache(tmp_path, tiny_model):
    recipe = yaml.safe_load(TINY.read_text())
    for entry in [*recipe["eval"]["tasks"], *recipe["data"]["sources"]]:  # paths are relative to tests/assets
        entry["path"] = str((TINY.parent / entry["path"]).resolve())
    recipe["eval"]["cache_base"] = False
    local_recipe = tmp_path / "local.yaml"
    local_recipe.write_text(yaml.safe_dump(recipe))
    recipe["eval"]["server"] = {"max_concurrency": 2}
    served_recipe = tmp_path / "served.yaml"
    served_recipe.write_text(yaml.safe_dump(recipe))
    env = {"LINGOTUNE_CACHE": str(tmp_path / "cache")}
    local = lingotune("eval", str(local_recipe), f"output_dir={tmp_path / 'local'}", env=env)
    assert local.returncode == 0, local.stderr[-3000:]
    served = lingotune("eval", str(served_recipe), f"output_dir={tmp_path / 'served'}", env=env)
    assert served.returncode == 0, served.stderr[-3000:]
    assert "generating through http://127.0.0.1:" in " ".join((served.stdout + served.stderr).split())
    summary = json.loads((tmp_path / "served" / "eval" / "base" / "summary.json").read_text())
    assert summary["generation"] == "server"
    for task in ("fidelity_es", "xquad_es", "ntrex_en_es", "xquad_en"):
        here, there = _records(tmp_path / "local", task), _records(tmp_path / "served", task)
        assert [r["id"] for r in there] == [r["id"] for r in here]
        same = sum(a["output"] == b["output"] for a, b in zip(here, there, strict=True))
        assert same >= len(here) - 1, (task, [(a["output"], b["output"]) for a, b in zip(here, there, strict=True)])
    again = lingotune("eval", str(served_recipe), f"output_dir={tmp_path / 'again'}", env=env)
    assert again.returncode == 0, again.stderr[-3000:]
    assert "generating through" not in again.stdout + again.stderr  # every answer came from the request cache
    for task in ("fidelity_es", "xquad_es"):
        assert _records(tmp_path / "again", task) == _records(tmp_path / "served", task)
