"""Where an evaluation's answers come from: the model loaded in this process, or a server.

In-process generation (``generate_batched``) is right on a laptop. On a GPU, vLLM or transformers'
continuous batching serve far more answers per second, so ``eval.server`` starts an OpenAI-compatible
server on the stage's model (``lingotune serve``'s ``transformers serve``, or any command such as
vLLM's), bound to 127.0.0.1 on a free port, sends every prompt through the judge's ``OpenAIBackend``
(bounded concurrency, retries, the request cache keyed by the weights' fingerprint, so a rerun sends
nothing), and stops the server when the stage is done. Greedy (temperature 0) like in-process.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import Field

from lingotune.core.errors import LingotuneError
from lingotune.core.progress import console
from lingotune.core.schema import Strict
from lingotune.models.generate import Sampling
from lingotune.models.sources import ResolvedModel

Conversation = Sequence[dict[str, str]]
# generate(conversations, max_new_tokens, description, sampling=None): greedy unless ``sampling`` is given
Generate = Callable[..., list[str]]


class GenerationServerSpec(Strict):
    """``eval.server``: generate through an OpenAI-compatible server started on each evaluated model.

    ``command``: the server's command line with ``{model}`` (the checkpoint folder) and ``{port}``, e.g.
    ``vllm serve {model} --host 127.0.0.1 --port {port}``; unset: lingotune's own (``transformers serve``)."""

    command: str | None = None
    device: str = Field(default="cpu", description="lingotune's own server: cpu, cuda, auto")
    continuous_batching: bool = Field(default=False, description="lingotune's own server: paged attention + "
                                      "continuous batching (transformers serve --continuous-batching)")
    max_concurrency: int = Field(default=16, gt=0, le=1024)
    startup_timeout_s: float = Field(default=600.0, gt=0)
    request_timeout_s: float = Field(default=600.0, gt=0)


class _CommandServer:
    """A user-given server command (vLLM, SGLang, llama.cpp …) in its own process group."""

    def __init__(self, command: str, model_path: str, startup_timeout_s: float) -> None:
        from lingotune.inference.serve import LOOPBACK, Server, free_port

        port = free_port(LOOPBACK)
        argv = [part.format(model=model_path, port=port) for part in shlex.split(command)]
        log = Path(tempfile.mkstemp(prefix="lingotune-eval-server-", suffix=".log")[1])
        with log.open("ab") as sink:
            process = subprocess.Popen(argv, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                       start_new_session=True)
        self.server = Server(process, LOOPBACK, port, "", log)
        deadline = time.monotonic() + startup_timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise LingotuneError(f"eval.server command exited with code {process.returncode}: {argv}\n"
                                     f"{self.server.log_tail()}")
            model_id = self._served_model()
            if model_id:
                self.server.model = model_id
                return
            time.sleep(1.0)
        self.server.stop()
        raise LingotuneError(f"eval.server command not answering /v1/models after {startup_timeout_s:.0f} s: "
                             f"{argv}\n{self.server.log_tail()}")

    def _served_model(self) -> str | None:
        try:
            with urllib.request.urlopen(f"{self.server.base_url}/models", timeout=2) as response:
                data = json.loads(response.read()).get("data") or []
                return data[0]["id"] if data else None
        except (urllib.error.URLError, OSError, ValueError, KeyError):
            return None


class ServedGeneration:
    """Generation through a server that is started only when a request is not in the cache (a rerun
    of a finished evaluation starts nothing); ``close()`` stops it."""

    def __init__(self, model: ResolvedModel, spec: GenerationServerSpec, trust_remote_code: bool) -> None:
        from lingotune.inference.backends import OpenAIBackend, RequestCache
        from lingotune.inference.serve import LOOPBACK
        from lingotune.models.fingerprint import model_fingerprint

        if trust_remote_code:
            raise LingotuneError("eval.server does not run a model repository's own code; evaluate in-process "
                                 "(remove eval.server) for models that need trust_remote_code")
        self.model, self.spec, self.server = model, spec, None
        served = self

        class _ServerBackend(OpenAIBackend):
            def _connect(self):  # the server's port and model id are known only once it runs
                server = served._start()
                self.model, self.base_url = server.model, server.base_url
                return super()._connect()

        identity = {"kind": "openai", "model": model.name, "host": LOOPBACK,
                    "weights": model_fingerprint(model)[:16]}  # the cache follows the weights, not the port
        self.backend = _ServerBackend(model.name, max_concurrency=spec.max_concurrency,
                                      timeout_s=spec.request_timeout_s, cache=RequestCache(), identity=identity)

    def _start(self):
        from lingotune.inference.serve import servable_model, start_server

        path = servable_model(str(self.model.adapter_path or self.model.path))
        if self.spec.command:
            self.server = _CommandServer(self.spec.command, path, self.spec.startup_timeout_s).server
        else:
            self.server = start_server(path, device=self.spec.device, continuous_batching=self.spec.continuous_batching,
                                       startup_timeout_s=self.spec.startup_timeout_s)
        console.print(f"[dim]generating through {self.server.base_url} ({self.server.model})[/dim]")
        return self.server

    def __call__(self, conversations: list[Conversation], max_new_tokens: int, description: str,
                 sampling: Sampling | None = None) -> list[str]:
        params: dict[str, Any] = {"max_tokens": max_new_tokens, "temperature": 0.0}
        if sampling is None:
            requests = [(c, params) for c in conversations]
        else:  # each sample its own seed: the server draws it, the request cache keeps it apart
            requests = [(c, {**params, "temperature": sampling.temperature, "top_p": sampling.top_p, "seed": seed})
                        for c, seed in zip(conversations, sampling.seeds, strict=True)]
        completions = self.backend.complete_many(requests, description)
        failed = [c for c in completions if c.error is not None]
        if failed:
            where = self.server.base_url if self.server else "the server"
            raise LingotuneError(f"{description}: {len(failed)} of {len(completions)} requests to {where} failed "
                                 f"(first: {failed[0].error}); answers that did arrive are cached, so a rerun "
                                 f"asks only for the rest")
        return [(c.text or "").strip() for c in completions]

    def close(self) -> None:
        if self.server is not None:
            self.server.stop()
            self.server = None


def local_generation(loaded, batch_size: int, token_budget: int = 12000) -> Generate:
    """In-process, batched generation (greedy, or sampled when asked) with the model loaded on first use."""
    from lingotune.models.generate import generate_batched

    def generate(conversations: list[Conversation], max_new_tokens: int, description: str,
                 sampling: Sampling | None = None) -> list[str]:
        model, tokenizer = loaded.get()
        return generate_batched(model, tokenizer, conversations, max_new_tokens=max_new_tokens,
                                batch_size=batch_size, description=description, sampling=sampling,
                                token_budget=token_budget)

    return generate
