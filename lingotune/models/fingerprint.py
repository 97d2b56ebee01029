"""A model's identity for caches (base evaluations, request caches): cheap to compute, changes when
the weights on disk change."""

from __future__ import annotations

import hashlib
from pathlib import Path

from lingotune.models.sources import ResolvedModel


def model_fingerprint(model: ResolvedModel) -> str:
    """Identifies the weights without hashing gigabytes: config text plus weight files' names, sizes and mtimes."""
    parts = [model.path, model.adapter_path or ""]
    for folder in filter(None, [model.path, model.adapter_path]):
        root = Path(folder)
        if not root.is_dir():
            continue
        for file in sorted(root.iterdir()):
            if file.suffix in {".json", ".safetensors"}:
                stat = file.stat()
                parts.append(f"{file.name}:{stat.st_size}:{stat.st_mtime_ns}")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()
