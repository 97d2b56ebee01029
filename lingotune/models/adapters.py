"""Model sources → local full checkpoints for mergekit; PEFT adapters merged into their base first.

mergekit merges full checkpoints. A LoRA expert (an ``adapter/`` folder, or a run folder holding
only one) is merged into its base once, in float32 with PEFT's own ``merge_and_unload`` (the same
math as ``train/sft.py``'s final save), and cached under ``$LINGOTUNE_CACHE/models/lora-merged-*``.

Why not mergekit's ``base+adapter`` model syntax: the adapter's ``base_model_name_or_path`` may be
a lingotune name (``smollm2-135m-instruct``, ``tiny-random``) only lingotune can resolve, and
mergekit keys its cache by path, so an adapter retrained in the same folder would reuse a stale
merge; the cache key here is a hash of the adapter's files.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

from lingotune.core.errors import ModelStructureError
from lingotune.core.paths import build_once, cache_dir
from lingotune.models.sources import ResolvedModel, resolve_model

_TOKENIZER_FILES = (
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.model", "added_tokens.json",
    "vocab.json", "merges.txt", "chat_template.jinja", "chat_template.json", "generation_config.json",
)


def resolve_checkpoint(source: str, key: str = "model") -> Path:
    """A local folder with config.json and safetensors weights for ``source`` (``key`` names it in errors)."""
    from lingotune.core.errors import ModelSourceError

    try:
        resolved = resolve_model(source)
    except ModelSourceError as exc:
        raise ModelStructureError(f"{key}: {exc}") from None
    if resolved.kind == "adapter":
        return merge_lora_adapter(resolved)
    if resolved.kind == "hub":
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(resolved.path, allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt"]))
    return Path(resolved.path)


def _adapter_digest(adapter: Path, base_path: str) -> str:
    digest = hashlib.sha256(base_path.encode())
    for file in sorted(adapter.iterdir()):
        if file.suffix in (".json", ".safetensors", ".bin"):
            digest.update(file.name.encode())
            with open(file, "rb") as handle:
                for chunk in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(chunk)
    return digest.hexdigest()[:16]


def merge_lora_adapter(resolved: ResolvedModel) -> Path:
    """Merge a PEFT adapter into its base (float32) once; return the cached full checkpoint."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    adapter = Path(resolved.adapter_path or "")

    def build(out: Path, _: Path) -> str:
        base = AutoModelForCausalLM.from_pretrained(resolved.path, dtype=torch.float32, use_safetensors=True)
        merged = PeftModel.from_pretrained(base, str(adapter)).merge_and_unload()
        merged.save_pretrained(out, safe_serialization=True)
        donor = adapter if (adapter / "tokenizer_config.json").exists() else Path(resolved.path)
        copy_tokenizer(donor, out)
        return str(adapter.resolve())

    target = cache_dir() / "models" / f"lora-merged-{adapter.name}-{_adapter_digest(adapter, resolved.path)}"
    return build_once(target, build)


def copy_tokenizer(donor: Path, out_dir: Path) -> None:
    """Copy tokenizer, chat template and generation config files (what mergekit's copy_tokenizer copies)."""
    for name in _TOKENIZER_FILES:
        if (donor / name).exists():
            shutil.copy2(donor / name, out_dir / name)
