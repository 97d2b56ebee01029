"""One resolver from whatever a recipe names to a local checkpoint folder.

Accepted: an embedded name (``smollm2-135m-instruct``, ``gemma3-270m``), ``tiny-random`` (a tiny
random Llama for tests), a local folder (a full checkpoint, a PEFT adapter whose base is resolved
the same way, or a lingotune run folder, which stands for its ``model/`` or else its ``adapter/``),
a local ``.gguf`` file (converted once), or any Hugging Face hub id, which transformers downloads
and caches itself.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from lingotune.core.errors import ModelSourceError
from lingotune.core.paths import build_once, cache_dir
from lingotune.core.progress import status
from lingotune.models.embedded import EMBEDDED, convert_gguf, prepare_embedded, sha256_of

TINY_NAMES = ("tiny-random", "tiny-random-llama")


@dataclass(frozen=True)
class ResolvedModel:
    """``path`` is what ``from_pretrained`` gets: a folder, or a hub id for remote models."""

    name: str
    path: str
    kind: str  # "embedded" | "tiny" | "local" | "gguf" | "hub" | "adapter"
    adapter_path: str | None = None


def available_models() -> dict[str, str]:
    names = {name: model.description for name, model in EMBEDDED.items()}
    names["tiny-random"] = "tiny random Llama (4 layers, for plumbing tests; outputs are noise)"
    return names


def _tiny_model() -> Path:
    from lingotune.models.tiny import build_tiny_model

    return build_once(cache_dir() / "models" / "tiny-random", lambda out, _: str(build_tiny_model(out)))


def _gguf_file(path: Path) -> Path:
    digest = sha256_of(path)[:16]

    def build(out: Path, _: Path) -> str:
        with status(f"Converting {path.name} to safetensors (once)"):
            try:
                convert_gguf(path, out)
            except Exception as exc:  # gguf/transformers raise many types for a bad file
                raise ModelSourceError(f"{path}: could not read it as a GGUF model ({exc})") from None
        return digest

    return build_once(cache_dir() / "models" / f"gguf-{path.stem}-{digest}", build)


def _looks_like_path(source: str) -> bool:
    return source.startswith((".", "/", "~")) or source.endswith(".gguf") or source.count("/") > 1


def resolve_model(source: str) -> ResolvedModel:
    """Turn a recipe's ``model.source`` into something ``from_pretrained`` can load."""
    if source in EMBEDDED:
        return ResolvedModel(source, str(prepare_embedded(source)), "embedded")
    if source in TINY_NAMES:
        return ResolvedModel(source, str(_tiny_model()), "tiny")
    path = Path(source).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return ResolvedModel(path.stem, str(_gguf_file(path)), "gguf")
    if path.is_dir():
        if not (path / "config.json").exists() and not (path / "adapter_config.json").exists():
            for inner in ("model", "adapter"):  # a lingotune run folder stands for its output
                if (path / inner / "config.json").exists() or (path / inner / "adapter_config.json").exists():
                    return resolve_model(str(path / inner))
        if (path / "adapter_config.json").exists():
            base = json.loads((path / "adapter_config.json").read_text()).get("base_model_name_or_path")
            if not base:
                raise ModelSourceError(f"{path}/adapter_config.json names no base_model_name_or_path")
            resolved_base = resolve_model(base)
            return ResolvedModel(path.name, resolved_base.path, "adapter", adapter_path=str(path))
        if (path / "config.json").exists():
            return ResolvedModel(path.name, str(path), "local")
        raise ModelSourceError(f"{path} is a folder but holds no config.json, adapter_config.json, "
                               "nor a run folder's model/ or adapter/")
    if _looks_like_path(source):
        raise ModelSourceError(f"model path {source!r} does not exist")
    return _hub_model(source)


def _hub_model(source: str) -> ResolvedModel:
    import logging

    from transformers import AutoConfig

    logging.disable(logging.WARNING)  # the hub client logs whole tracebacks when offline; the error below says it
    try:
        AutoConfig.from_pretrained(source)
    except Exception as exc:  # transformers raises OSError/ValueError/HTTP errors here
        known = ", ".join(available_models())
        raise ModelSourceError(
            f"model {source!r} not found: it is not an embedded model ({known}), not a local folder, "
            f"and the Hugging Face hub could not provide it ({type(exc).__name__}: {str(exc)[:200]})"
        ) from None
    finally:
        logging.disable(logging.NOTSET)
    return ResolvedModel(source, source, "hub")
