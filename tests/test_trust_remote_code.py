"""``trust_remote_code`` reaches every model load, the judge's local backend included: a checkpoint
whose config needs its own Python code loads only when the recipe asks for it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from judge_stub import StubJudge
from test_judge_verdicts import _spec

from lingotune.core.context import RunContext
from lingotune.core.layout import RunLayout
from lingotune.eval.judge.run import judge_stage
from lingotune.models.sources import ResolvedModel

CONFIGURATION = '''from transformers import LlamaConfig


class CustomConfig(LlamaConfig):
    model_type = "lingotune_custom_llama"
'''
MODELING = '''from transformers import LlamaForCausalLM

from .configuration_custom import CustomConfig


class CustomForCausalLM(LlamaForCausalLM):
    config_class = CustomConfig
'''


@pytest.fixture
def custom_code_model(tiny_model, tmp_path) -> ResolvedModel:
    folder = tmp_path / "custom-model"
    shutil.copytree(tiny_model.path, folder)
    config = json.loads((folder / "config.json").read_text())
    config |= {"model_type": "lingotune_custom_llama", "architectures": ["CustomForCausalLM"],
               "auto_map": {"AutoConfig": "configuration_custom.CustomConfig",
                            "AutoModelForCausalLM": "modeling_custom.CustomForCausalLM"}}
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "configuration_custom.py").write_text(CONFIGURATION)
    (folder / "modeling_custom.py").write_text(MODELING)
    return ResolvedModel("custom", str(folder), "local")


def _judge(model: ResolvedModel, tmp_path: Path, trust: bool) -> dict:
    with StubJudge(lambda m: "[[5]]") as stub:
        spec = _spec(tmp_path, stub.base_url, answers=None, baseline_answers=None, mode="single", max_items=1,
                     max_new_tokens=2, cache_path=str(tmp_path / f"cache-{trust}.sqlite"))
        ctx = RunContext(RunLayout(tmp_path / f"run-{trust}"), trust_remote_code=trust)
        return judge_stage(model, SimpleNamespace(judge=spec, dtype="float32", batch_size=2), ctx, "base")


def test_judge_local_backend_refuses_remote_code_unless_the_run_allows_it(custom_code_model, tmp_path):
    with pytest.raises(ValueError, match="trust_remote_code"):
        _judge(custom_code_model, tmp_path, trust=False)
    summary = _judge(custom_code_model, tmp_path, trust=True)
    assert summary["single"]["n"] == 1 and summary["requests"]["answers"]["requests"] == 1
