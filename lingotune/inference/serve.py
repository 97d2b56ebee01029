"""An OpenAI-compatible endpoint for any model lingotune can load, built on ``transformers serve``.

``transformers serve`` (the ``transformers[serving]`` extra: FastAPI + uvicorn) already implements
``/v1/chat/completions`` (streaming and not), ``/v1/models``, ``/health`` and continuous batching,
so lingotune does not reimplement any of it. What it lacks, and what this module adds by hand:

- lingotune's model sources: embedded names (GGUF converted once), run folders (``model/``, or
  ``adapter/`` on its base) and PEFT adapters, which are merged into a cached plain checkpoint
  first because ``transformers serve`` loads plain checkpoints only;
- use as a managed subprocess: bound to 127.0.0.1 unless asked otherwise, started in its own
  process group, ``/health`` polled until ready (failing fast with the log tail if it dies), and
  stopped with SIGTERM then SIGKILL, so tests and ``lingotune serve`` never leave a server behind.

A pinned server answers only to its model's id, which is the checkpoint folder's path; ``Server.model``
holds it (``GET /v1/models`` lists it too).
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lingotune.core.errors import LingotuneError

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def servable_model(model: str) -> str:
    """A folder (or hub id) ``transformers serve`` can load: run folders use ``model/`` (merged
    safetensors) or else ``adapter/``; adapters are merged; everything else goes through ``resolve_model``."""
    from lingotune.models.sources import resolve_model

    resolved = resolve_model(model)
    if resolved.adapter_path:
        from lingotune.models.adapters import merge_lora_adapter  # one adapter-merge cache for merges and serving

        return str(merge_lora_adapter(resolved))
    return resolved.path if resolved.kind == "hub" else str(Path(resolved.path).resolve())


@dataclass
class Server:
    """A running ``transformers serve`` subprocess."""

    process: subprocess.Popen
    host: str
    port: int
    model: str  # the id requests must name
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{self.host}:{self.port}/health", timeout=2) as response:
                return response.status == 200 and json.loads(response.read()).get("status") == "ok"
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def log_tail(self, chars: int = 2000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def stop(self, grace_s: float = 10.0) -> None:
        """SIGTERM to the whole process group (uvicorn shuts down gracefully), SIGKILL after ``grace_s``."""
        if self.process.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                return
            try:
                self.process.wait(timeout=wait)
                return
            except subprocess.TimeoutExpired:
                continue


def serve_command(model_path: str, host: str, port: int, *, device: str = "cpu", dtype: str = "auto",
                  continuous_batching: bool = False, log_level: str = "warning") -> list[str]:
    """The ``transformers serve`` command line, run with this interpreter so the venv's transformers is used."""
    command = [sys.executable, "-c", "import sys; from transformers.cli.transformers import main; sys.exit(main())",
               "serve", model_path, "--host", host, "--port", str(port), "--device", device, "--dtype", dtype,
               "--log-level", log_level]
    return command + (["--continuous-batching"] if continuous_batching else [])


def start_server(model: str, *, host: str = LOOPBACK, port: int | None = None, device: str = "cpu",
                 dtype: str = "auto", continuous_batching: bool = False, startup_timeout_s: float = 300.0,
                 log_path: str | Path | None = None) -> Server:
    """Resolve ``model``, start ``transformers serve`` on it and return once ``/health`` answers."""
    from transformers.utils.import_utils import is_serve_available

    if not is_serve_available():
        raise LingotuneError("serving needs the transformers[serving] extra: pip install 'transformers[serving]' "
                             "(fastapi, uvicorn)")
    model_path = servable_model(model)
    port = port or free_port(host)
    log = Path(log_path) if log_path else Path(tempfile.mkstemp(prefix="lingotune-serve-", suffix=".log")[1])
    with log.open("ab") as sink:
        process = subprocess.Popen(
            serve_command(model_path, host, port, device=device, dtype=dtype, continuous_batching=continuous_batching),
            stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True,
        )
    server = Server(process, host, port, model_path, log)
    deadline = time.monotonic() + startup_timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise LingotuneError(f"transformers serve exited with code {process.returncode}:\n{server.log_tail()}")
        if server.healthy():
            return server
        time.sleep(0.5)
    server.stop()
    raise LingotuneError(f"transformers serve was not healthy after {startup_timeout_s:.0f} s:\n{server.log_tail()}")


@contextmanager
def running_server(model: str, port: int | None = None, **options) -> Iterator[Server]:
    """``with running_server("smollm2-135m-instruct") as server: server.base_url, server.model``."""
    server = start_server(model, port=port, **options)
    try:
        yield server
    finally:
        server.stop()
