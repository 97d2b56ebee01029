"""``lingotune serve MODEL_OR_RUN_DIR``: chat with an adapted model through an OpenAI-compatible API.

The lead registers it in ``lingotune.cli`` with ``app.command()(serve)``.
"""

from __future__ import annotations

import ipaddress
import json
import signal
from typing import Annotated

import typer

from lingotune.cli.errors import user_errors
from lingotune.core.progress import console


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


@user_errors
def serve(
    model: Annotated[str, typer.Argument(help="embedded name, hub id, checkpoint, adapter or run folder")],
    host: Annotated[str, typer.Option(help="listen address; 127.0.0.1 keeps it on this machine")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="listen port")] = 8000,
    device: Annotated[str, typer.Option(help="cpu, cuda, cuda:0, auto")] = "cpu",
    dtype: Annotated[str, typer.Option(help="auto (from the weights), float32, bfloat16, float16")] = "auto",
    continuous_batching: Annotated[bool, typer.Option(help="paged attention + continuous batching")] = False,
    startup_timeout: Annotated[float, typer.Option(help="seconds to wait for /health")] = 300.0,
) -> None:
    """Serve a model at /v1/chat/completions (streaming or not) and /v1/models, until Ctrl-C."""
    from lingotune.inference.serve import start_server

    if not _is_loopback(host):
        console.print(f"[yellow]Listening on {host}: the endpoint has no authentication.[/yellow]")
    server = start_server(model, host=host, port=port, device=device, dtype=dtype,
                          continuous_batching=continuous_batching, startup_timeout_s=startup_timeout)
    console.print(f"Serving [bold]{server.model}[/bold] at {server.base_url}  (log: {server.log_path})",
                  highlight=False)
    body = json.dumps({"model": server.model, "messages": [{"role": "user", "content": "Hola"}]})
    console.print(f"  curl {server.base_url}/chat/completions -H 'Content-Type: application/json' -d '{body}'",
                  highlight=False, markup=False)
    signal.signal(signal.SIGTERM, _interrupt)  # `kill` stops the server too, not only Ctrl-C
    try:
        server.process.wait()  # until the server dies or Ctrl-C
    except KeyboardInterrupt:
        console.print("Stopping…")
    finally:
        server.stop()
    if server.process.returncode not in (0, -15, None):
        console.print(f"[red]server exited with code {server.process.returncode}[/red]\n{server.log_tail()}",
                      markup=False)
        raise typer.Exit(1)
