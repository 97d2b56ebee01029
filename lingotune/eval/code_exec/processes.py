"""Host-side plumbing of one sandboxed run: the pipes the sandbox reports on, the handle on its pid
namespace, and the captured output.

The handle is a pidfd (Linux ≥ 5.3) on the namespace's init, whose host pid bubblewrap writes to
``--info-fd`` and the launcher (unshare level) to the status pipe. Killing that init makes the kernel kill
every other process of the namespace, and the pidfd turns readable only once they are all gone
(``zap_pid_ns_processes`` runs before the init's own exit is reported): so when :func:`end_namespace`
returns, nothing the program started is still running — not a double-forked daemon, not a fork bomb.
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import time
from typing import IO


class StatusReader:
    """Accumulates what a pipe says, line by line, without ever blocking past a deadline."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.text = ""
        self.closed = False
        os.set_blocking(fd, False)

    def _read(self) -> None:
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return
        if not data:
            self.closed = True
        self.text += data.decode("utf-8", errors="replace")

    def wait_for(self, pattern: re.Pattern[str], seconds: float) -> re.Match[str] | None:
        """The first match of ``pattern`` in what was said, waiting up to ``seconds`` (or until the pipe closes)."""
        deadline = time.monotonic() + seconds
        while True:
            match = pattern.search(self.text)
            if match or self.closed:
                return match
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                self._read()

    def lines(self) -> list[str]:
        while not self.closed:
            before = len(self.text)
            self._read()
            if len(self.text) == before:
                break
        return self.text.splitlines()


_BWRAP_CHILD = re.compile(r'"child-pid"\s*:\s*(\d+)')
_LAUNCHER_INIT = re.compile(r"^init (\d+)$|^error:", re.MULTILINE)


def namespace_init(level: str, info: StatusReader | None, status: StatusReader, seconds: float) -> int | None:
    """Host pid of the sandbox's pid-namespace init, as soon as it exists (None: the sandbox failed first)."""
    if level == "bwrap" and info is not None:
        match = info.wait_for(_BWRAP_CHILD, seconds)
    elif level == "unshare":
        match = status.wait_for(_LAUNCHER_INIT, seconds)
    else:
        return None
    return int(match.group(1)) if match and match.group(1) else None


def open_pidfd(pid: int | None) -> int | None:
    if pid is None:
        return None
    try:
        return os.pidfd_open(pid)
    except (OSError, AttributeError):  # gone already (so is its namespace), or a kernel older than 5.3
        return None


def end_namespace(pidfd: int | None, seconds: float) -> bool:
    """Kill the namespace's init (and so everything in it); True once all of it is gone, False if still
    there after ``seconds`` (never seen in practice: the kernel needs milliseconds)."""
    if pidfd is None:
        return True
    try:
        signal.pidfd_send_signal(pidfd, signal.SIGKILL)
    except ProcessLookupError:
        pass
    ready, _, _ = select.select([pidfd], [], [], seconds)
    return bool(ready)


def kill_group(process: subprocess.Popen) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def tail(handle: IO[bytes], chars: int) -> str:
    """The last ``chars`` characters of a captured output file."""
    handle.seek(0, os.SEEK_END)
    size = handle.tell()
    handle.seek(max(0, size - 4 * chars))
    return handle.read().decode("utf-8", errors="replace")[-chars:]

