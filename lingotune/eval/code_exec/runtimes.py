"""How a program of each programming language is run: the file it is written to, the command, the host paths
the sandbox must show read-only (the interpreter's installation), and the default resource limits."""

from __future__ import annotations

import math
import os
import shutil
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path


@dataclass(frozen=True)
class Limits:
    """Per-program limits. ``timeout_s`` is wall-clock time (the group is killed when it passes); the CPU
    limit defaults to the timeout rounded up, plus one second. ``memory_mb`` is address space
    (``RLIMIT_AS``), so a JVM needs more than its heap. ``file_size_mb`` bounds every file the program writes,
    its captured stdout/stderr included. ``processes`` counts threads too (a JVM starts about 20). ``disk_mb`` is
the size of the work directory and of /tmp (memory-backed tmpfs) in the isolated levels."""

    timeout_s: float = 10.0
    cpu_s: int | None = None
    memory_mb: int = 1024
    file_size_mb: int = 16
    processes: int = 64
    open_files: int = 256
    disk_mb: int = 64

    def rlimits(self) -> dict[str, tuple[int, int]]:
        """``resource`` names → (soft, hard). The CPU soft limit sends SIGXCPU, the hard one a second later
        SIGKILL (a program that ignores SIGXCPU still stops)."""
        cpu = self.cpu_s if self.cpu_s is not None else math.ceil(self.timeout_s) + 1
        mib = 1024 * 1024
        return {
            "RLIMIT_CPU": (cpu, cpu + 1),
            "RLIMIT_AS": (self.memory_mb * mib, self.memory_mb * mib),
            "RLIMIT_FSIZE": (self.file_size_mb * mib, self.file_size_mb * mib),
            "RLIMIT_NPROC": (self.processes, self.processes),
            "RLIMIT_NOFILE": (self.open_files, self.open_files),
            "RLIMIT_CORE": (0, 0),
        }


@dataclass(frozen=True)
class Runtime:
    """``command`` is run in the program's work directory; ``{file}`` stands for the program's file name."""

    language: str
    file_name: str
    command: tuple[str, ...]
    read_only_paths: tuple[str, ...]
    limits: Limits = field(default_factory=Limits)
    version: str = ""

    def argv(self) -> list[str]:
        return [part.replace("{file}", self.file_name) for part in self.command]


def _installation(executable: str) -> str:
    """The folder an interpreter or JDK lives in (``<prefix>/bin/python3.11`` → ``<prefix>``)."""
    return str(Path(executable).parent.parent)


def host_python() -> str:
    """The interpreter lingotune runs on, resolved out of any virtual environment: programs get the same
    Python version, with the standard library only (``-S``: no site-packages)."""
    return os.path.realpath(getattr(sys, "_base_executable", None) or sys.executable)


def python_runtime(executable: str | None = None, limits: Limits | None = None) -> Runtime:
    python = os.path.realpath(executable) if executable else host_python()
    version = "" if executable else f"Python {sys.version.split()[0]}"
    paths = {_installation(python)}
    if not executable:
        paths.add(os.path.realpath(sys.base_prefix))
    return Runtime("python", "main.py", (python, "-I", "-S", "{file}"), tuple(sorted(paths)),
                   limits or Limits(), version)


# Startup-oriented JVM flags: C1 only, serial GC, no perf-data file in /tmp, bounded reserved memory so the
# JVM starts under an address-space limit.
JAVA_FLAGS = ("-Xshare:auto", "-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-XX:-UsePerfData",
              "-Xmx512m", "-XX:ReservedCodeCacheSize=64m", "-XX:MaxMetaspaceSize=256m",
              "-XX:CompressedClassSpaceSize=128m", "-Djava.io.tmpdir=/tmp")
JAVA_LIMITS = Limits(timeout_s=20.0, memory_mb=2048, processes=128)


def java_runtime(java: str | None = None, limits: Limits | None = None) -> Runtime | None:
    """``java Main.java``: the JDK's single-file source launcher compiles in memory and runs the first class
    of the file (one JVM start instead of ``javac`` + ``java``). None when no JDK is installed."""
    found = java or shutil.which("java", path="/usr/local/bin:/usr/bin:/bin:" + os.environ.get("PATH", ""))
    if not found:
        return None
    real = os.path.realpath(found)
    return Runtime("java", "Main.java", (real, *JAVA_FLAGS, "{file}"), (_installation(real),),
                   limits or JAVA_LIMITS, "java")


def with_limits(runtime: Runtime, limits: Limits) -> Runtime:
    return replace(runtime, limits=limits)
