"""The model resolver: embedded names, tiny model, local folders, adapters, errors."""

from __future__ import annotations

import json

import pytest

from lingotune.core.errors import ModelSourceError
from lingotune.models.sources import resolve_model


def test_tiny_model_is_built_once_and_marked_complete(tiny_model):
    again = resolve_model("tiny-random")
    assert again.path == tiny_model.path and again.kind == "tiny"
    from pathlib import Path

    assert (Path(tiny_model.path) / ".complete").exists()


def test_local_folder_resolves_to_itself(tiny_model):
    resolved = resolve_model(tiny_model.path)
    assert resolved.kind == "local" and resolved.path == tiny_model.path


def test_folder_without_config_is_refused(tmp_path):
    with pytest.raises(ModelSourceError, match="no config.json"):
        resolve_model(str(tmp_path))


def test_adapter_folder_resolves_its_base(tiny_model, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    model = get_peft_model(AutoModelForCausalLM.from_pretrained(tiny_model.path),
                           LoraConfig(r=2, target_modules=["q_proj"], task_type="CAUSAL_LM"))
    model.save_pretrained(tmp_path / "adapter")
    config = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == tiny_model.path
    resolved = resolve_model(str(tmp_path / "adapter"))
    assert resolved.kind == "adapter" and resolved.path == tiny_model.path
    assert resolved.adapter_path == str(tmp_path / "adapter")


@pytest.mark.slow
def test_embedded_default_is_a_plain_trainable_checkpoint(smollm2):
    from pathlib import Path

    folder = Path(smollm2.path)
    config = json.loads((folder / "config.json").read_text())
    assert "quantization_config" not in config and config["model_type"] == "llama"
    assert (folder / "model.safetensors").exists() and (folder / "chat_template.jinja").exists()
    assert (folder / ".complete").exists()
    assert not list(folder.parent.glob(".smollm2-135m-instruct-*")), "a staging folder was left behind"


def test_failed_conversion_leaves_nothing_that_looks_complete(tmp_path, monkeypatch):
    monkeypatch.setenv("LINGOTUNE_CACHE", str(tmp_path / "cache"))
    bogus = tmp_path / "broken.gguf"
    bogus.write_bytes(b"GGUF" + b"\0" * 64)
    with pytest.raises(ModelSourceError, match="could not read it as a GGUF model"):
        resolve_model(str(bogus))
    models = tmp_path / "cache" / "models"
    assert not any(p.name.startswith("gguf-broken") for p in models.glob("*")) if models.exists() else True
    assert not list((tmp_path / "cache").glob(".gguf-*")), "a staging folder was left behind"


def test_sampled_generation_differs_per_seed_and_repeats_with_the_same_seeds(tiny_model):
    """pass@k needs n different answers per prompt, and a rerun must draw the same ones."""
    from lingotune.models.generate import Sampling, generate_batched
    from lingotune.models.loading import load_model, load_tokenizer

    tokenizer, model = load_tokenizer(tiny_model), load_model(tiny_model, dtype="float32")
    prompts = [[{"role": "user", "content": "def add(a, b):"}]] * 4
    sampling = Sampling(temperature=0.8, top_p=0.95, seeds=(0, 1, 2, 3))
    first = generate_batched(model, tokenizer, prompts, max_new_tokens=8, sampling=sampling)
    again = generate_batched(model, tokenizer, prompts, max_new_tokens=8, sampling=sampling)
    greedy = generate_batched(model, tokenizer, prompts, max_new_tokens=8)
    assert first == again and len(set(first)) > 1
    assert len(set(greedy)) == 1
    other = generate_batched(model, tokenizer, prompts, max_new_tokens=8,
                             sampling=Sampling(0.8, 0.95, seeds=(10, 11, 12, 13)))
    assert other != first
