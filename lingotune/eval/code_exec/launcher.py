"""The last trusted step before an untrusted program runs: executed as ``python -I -S -c <this file's text>``
inside the namespaces that bubblewrap or ``unshare`` created, it finishes the confinement and then
``exec``s the program, so every limit is in place before the program's first instruction.

In order: (0) for the ``unshare`` level, fork the new pid namespace's init and stay outside as its monitor;
(1) for the ``unshare`` level, build the filesystem view: every mount read-only; the places where secrets and
sockets live (``/home``, ``/root``, ``/run``, ``/tmp`` …) replaced by empty tmpfs; the work directory a fresh
size-limited tmpfs with the program copied in; the interpreter bound back in; (2) when started as root, drop
to an unprivileged uid; (3) enter a fresh user namespace that maps a non-root uid, so the program holds no
capability at all and ``RLIMIT_NPROC`` is counted per sandbox (the kernel does not enforce it for uid 0, nor
for any uid mapped to host root: see ``copy_process`` in ``kernel/fork.c``); (4) set the resource limits;
(5) ``no_new_privs`` and a parent-death signal; (6) report readiness on a status descriptor and ``exec``.

Standard library only (``-S`` skips site-packages; nothing of lingotune is importable here). The kernel
calls Python's ``os`` lacks in 3.11 (``unshare``, ``mount``, ``mount_setattr``, ``prctl``) are made through
ctypes: written by hand because no maintained library wraps them.
"""

import ctypes
import json
import os
import resource
import signal
import sys

CLONE_NEWUSER = 0x10000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_BIND, MS_REC, MS_PRIVATE = 1, 2, 4, 8, 4096, 16384, 1 << 18
MOUNT_ATTR_RDONLY, MOUNT_ATTR_NOSUID = 0x1, 0x2
AT_FDCWD, AT_RECURSIVE = -100, 0x8000
SYS_MOUNT_SETATTR = 442  # the same number on x86_64 and aarch64 (syscalls added after 5.1 share numbers)
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38

libc = ctypes.CDLL(None, use_errno=True)


class SetupError(Exception):
    pass


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise SetupError(f"{what}: {os.strerror(errno)} (errno {errno})")


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def _set_mount_attr(path: str, flags: int, recursive: bool) -> None:
    attr = _MountAttr(flags, 0, 0, 0)
    result = libc.syscall(SYS_MOUNT_SETATTR, AT_FDCWD, path.encode(), AT_RECURSIVE if recursive else 0,
                          ctypes.byref(attr), ctypes.sizeof(attr))
    _check(result, f"mount_setattr {path} (needs Linux >= 5.12)")


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    result = libc.mount(source.encode(), target.encode(), fstype.encode() if fstype else None, flags,
                        data.encode() if data else None)
    _check(result, f"mount {source} on {target}")


def _build_filesystem(view: dict) -> None:
    """Read-only host, empty tmpfs over ``view["hide"]``, the work directory a fresh tmpfs holding copies of
    ``view["files"]``, and ``view["binds"]`` put back read-only."""
    _mount("none", "/", None, MS_REC | MS_PRIVATE)
    # Everything needed from the host is opened before the tmpfs hide it.
    handles = [(os.open(bind["source"], os.O_PATH | os.O_CLOEXEC), bind["target"]) for bind in view["binds"]]
    files = []
    for path in view["files"]:
        with open(path, "rb") as handle:
            files.append((os.path.basename(path), handle.read()))
    _set_mount_attr("/", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, recursive=True)
    _mount_proc()  # after the read-only pass: the user namespace step writes /proc/self/uid_map
    tmpfs = f"size={view['size_mb']}m"
    for path in view["hide"]:
        mode = "1777" if path in ("/tmp", "/var/tmp", "/dev/shm") else "755"  # scratch space stays writable
        _mount("tmpfs", path, "tmpfs", MS_NOSUID | MS_NODEV, f"mode={mode},{tmpfs}")
    workdir = view["workdir"]
    os.makedirs(workdir, mode=0o755, exist_ok=True)
    _mount("tmpfs", workdir, "tmpfs", MS_NOSUID | MS_NODEV, f"mode=1777,{tmpfs}")
    for name, data in files:
        with open(os.path.join(workdir, name), "wb") as handle:
            handle.write(data)
        os.chmod(os.path.join(workdir, name), 0o644)
    for fd, target in handles:
        if not os.path.isdir(target):
            os.makedirs(target, mode=0o755, exist_ok=True)
        _mount(f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC)
        _set_mount_attr(target, MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, recursive=True)
        os.close(fd)


def _drop_privileges(uid: int, gid: int) -> None:
    os.setgroups([])
    os.setgid(gid)
    os.setuid(uid)
    # a uid change clears "dumpable", which makes /proc/self/* root-owned: the uid_map write below needs it back
    _check(libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "prctl(PR_SET_DUMPABLE)")
    try:
        os.setuid(0)
    except PermissionError:
        return
    raise SetupError(f"still able to become root after dropping to uid {uid}")


def _enter_user_namespace(inner_uid: int) -> None:
    """A fresh user namespace mapping ``inner_uid`` to the current uid: after ``exec`` the program is a
    non-root uid with no capabilities, and its process count is its own."""
    uid, gid = os.getuid(), os.getgid()
    _check(libc.unshare(CLONE_NEWUSER), "unshare(CLONE_NEWUSER)")
    with open("/proc/self/setgroups", "w") as handle:
        handle.write("deny")
    with open("/proc/self/uid_map", "w") as handle:
        handle.write(f"{inner_uid} {uid} 1")
    with open("/proc/self/gid_map", "w") as handle:
        handle.write(f"{inner_uid} {gid} 1")


def _set_limits(limits: dict) -> None:
    for name, (soft, hard) in limits.items():
        resource.setrlimit(getattr(resource, name), (soft, hard))


def _mount_proc() -> None:
    """The new pid namespace's own /proc, over the host's (which would list every host process)."""
    _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)


def _become_pid_namespace_init(status: int) -> None:
    """After ``unshare --pid`` (no ``--fork``) the next child is pid 1 of the new namespace. Fork it; this
    process stays outside as its monitor: it reports the child's host pid (the sandbox's handle on the whole
    namespace: killing it kills every process inside) and exits with the child's status."""
    child = os.fork()
    if child == 0:
        _check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")
        return
    os.write(status, f"init {child}\n".encode())
    os.close(status)
    while True:
        try:
            _, wait_status = os.waitpid(child, 0)
            break
        except InterruptedError:
            continue
    code = os.waitstatus_to_exitcode(wait_status)
    os._exit(code if code >= 0 else 128 - code)


def main() -> None:
    config = json.loads(sys.argv[1])
    command = sys.argv[3:]  # sys.argv[2] is "--"
    status = config["status_fd"]
    os.set_inheritable(status, False)
    try:
        if config.get("pid_namespace_init"):
            _become_pid_namespace_init(status)
        if config.get("filesystem"):
            _build_filesystem(config["filesystem"])
        if config.get("drop_to"):
            _drop_privileges(*config["drop_to"])
        if config.get("user_namespace_uid") is not None:
            _enter_user_namespace(config["user_namespace_uid"])
        os.chdir(config["cwd"])
        os.umask(0o077)
        _set_limits(config["limits"])
        _check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")
        _check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PR_SET_PDEATHSIG)")
        os.write(status, b"ready\n")
        os.execv(command[0], command)
    except Exception as error:  # noqa: BLE001 (any failure here is a sandbox error, reported as such)
        os.write(status, f"error: {type(error).__name__}: {error}\n".encode())
        os._exit(125)


if __name__ == "__main__":
    main()
