"""Which chat endpoint answers: one spec for every client of the inference layer (the judge, answer
generation, the dataset translator)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from lingotune.core.schema import Strict


class BackendSpec(Strict):
    """A chat endpoint. ``openai``: any OpenAI-compatible server (lingotune serve, vLLM, a hosted API);
    ``local``: a model lingotune loads itself with transformers."""

    kind: Literal["openai", "local"] = "openai"
    base_url: str | None = None  # e.g. http://127.0.0.1:8000/v1; None = the openai client's default
    model: str  # served model name (openai) or model source (local: embedded name, path, hub id)
    api_key_env: str | None = None  # NAME of the environment variable that holds the key, never the key
    max_concurrency: int = Field(default=4, gt=0, le=256)
    timeout_s: float = Field(default=120.0, gt=0)
    max_retries: int = Field(default=3, ge=0, le=20)  # the openai client's own backoff on 408/429/5xx/timeouts
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"  # local only
    batch_size: int = Field(default=8, gt=0)  # local only
    trust_remote_code: bool = False  # local only: run the model repository's own code (off unless asked)
