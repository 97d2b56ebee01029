"""The real embedded default through ``lingotune run``: a handful of steps, everything written and loadable."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_smollm2_run_is_complete_and_loadable(smollm2, tmp_path):
    run_dir = tmp_path / "smol"
    overrides = [
        f"output_dir={run_dir}", "data.total_examples=12", "train.max_steps=3", "train.batch_size=4",
        "train.save_steps=2", "eval.cache_base=false",
        *[f"eval.tasks.{i}.max_items=4" for i in range(5)],
        *[f"eval.tasks.{i}.max_new_tokens=12" for i in range(5)],
    ]
    done = subprocess.run([sys.executable, "-m", "lingotune.cli", "run", "recipes/quickstart.yaml", *overrides],
                          cwd=REPO, capture_output=True, text=True, env={**os.environ, "LINGOTUNE_QUIET": "1"})
    assert done.returncode == 0, done.stderr[-3000:]
    info = json.loads((run_dir / "run_info.json").read_text())
    assert info["finished"] and info["train_examples"] > 0 and info["train_tokens"] > 0
    assert (run_dir / "checkpoints" / "checkpoint-2" / "trainer_state.json").exists()
    report = (run_dir / "report.md").read_text()
    for task in ("fidelity_es", "xquad_es", "ntrex_en_es", "xquad_en", "fidelity_en"):
        assert task in report
    assert "English retention" in report and (run_dir / "plots" / "loss.png").stat().st_size > 1000

    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(run_dir / "model")
    model = AutoModelForCausalLM.from_pretrained(run_dir / "model")
    assert model.config.num_hidden_layers == 30 and getattr(model.config, "quantization_config", None) is None
    prompt = tokenizer.apply_chat_template([{"role": "user", "content": "¿Cuál es la capital de Francia?"}],
                                           add_generation_prompt=True, return_tensors="pt", return_dict=True)
    output = model.generate(**prompt, max_new_tokens=8, do_sample=False)
    assert output.shape[1] > prompt["input_ids"].shape[1]
