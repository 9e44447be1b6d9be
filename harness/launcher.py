"""Puts the worker in its box, then becomes it: the first code of every worker process.

``harness.sandbox.Worker`` starts ``python -I -c <this file's source> CONFIG``,
with CONFIG a JSON object; no submitted code has run yet. Depending on
``CONFIG["box"]``:

``"none"``        resource limits only (a student's own machine: nothing to hide).
``"namespaces"``  new mount, network, PID, IPC and UTS namespaces (and a user
                  namespace when the grader is not root). The worker sees a root
                  file system of its own: the Python installation and the system's
                  libraries read-only, the implementation and support trees
                  read-only, a small private /tmp and /dev/shm, a /proc of its
                  own PID namespace, and nothing else (no kit, no home folder, no
                  dataset, no results). Its network namespace has no interface
                  that is up. The launcher stays as the namespace's init, which
                  reaps orphans; when it dies the kernel kills every process in
                  the namespace, and it dies with the process the grader started.
``"drop"``        for a root grader that may not create namespaces (a default
                  Docker container): the worker runs as an unprivileged uid of
                  its own and a seccomp filter denies every socket but Unix ones.

In every box: CPU, data-segment, file-size and core limits; for ``namespaces``
and ``drop`` also no new privileges and a cap on processes. Any step that
fails ends the launcher with status 71 and a line ``launcher: ...`` on stderr:
the grader then stops (fail closed), it never runs a submission in a weaker box.

This file imports only the standard library (and, for ``drop``, pyseccomp).
"""
import ctypes
import json
import os
import resource
import signal
import sys

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 1, 4, 38
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
ST_FLAGS_TO_MS = {os.ST_NOSUID: MS_NOSUID, os.ST_NODEV: MS_NODEV, os.ST_NOEXEC: MS_NOEXEC}
FAILED = 71  # EX_OSERR: the box could not be built

libc = ctypes.CDLL(None, use_errno=True)


class BoxError(Exception):
    pass


def check(result: int, what: str) -> None:
    if result != 0:
        error = ctypes.get_errno()
        raise BoxError(f"{what}: {os.strerror(error)}")


def mount(source, target, fstype, flags, data=None) -> None:
    check(libc.mount(source and source.encode(), target.encode(), fstype and fstype.encode(), flags,
                     data and data.encode()), f"mount {source or fstype} on {target}")


def write_file(path: str, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)


# ---------------------------------------------------------------------------- namespaces


def enter_namespaces(config: dict) -> None:
    """Unshare, map the user when not root, then fork: the child is PID 1 of the new namespace."""
    uid, gid = os.getuid(), os.getgid()
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    if config["user_namespace"]:
        flags |= CLONE_NEWUSER
    check(libc.unshare(flags), "unshare (namespaces)")
    if config["user_namespace"]:  # the same uid and gid inside: no capability survives exec
        write_file("/proc/self/setgroups", "deny")
        write_file("/proc/self/uid_map", f"{uid} {uid} 1")
        write_file("/proc/self/gid_map", f"{gid} {gid} 1")
    child = os.fork()
    if child:  # outside the namespace: wait, and pass the status on
        for fd in (config["reply_fd"], config["request_fd"]):
            if fd is not None:
                os.close(fd)
        _, status = os.waitpid(child, 0)
        os._exit(os.waitstatus_to_exitcode(status) % 256 if not os.WIFSIGNALED(status) else 128 + os.WTERMSIG(status))
    # PID 1 dies with the launcher (which the grader kills), and the kernel then kills the namespace.
    # (The parent waits for it, so it cannot be gone before this line.)
    check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PDEATHSIG)")
    check(libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0), "prctl(DUMPABLE)")


def build_root(config: dict) -> None:
    """A new root: a small tmpfs with read-only binds of what the worker may see; the old root is gone."""
    root = config["root"]
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("box", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,mode=0755")
    for path in ("/tmp", "/dev/shm"):  # first: the binds below may lie in /tmp
        os.makedirs(root + path, exist_ok=True)
        mount("box", root + path, "tmpfs", MS_NOSUID | MS_NODEV, f"size={config['tmpfs_mb']}m,mode=1777")
    for path in config["binds"]:
        bind(path, root + path)
    for device in ("null", "zero", "full", "random", "urandom"):
        target = f"{root}/dev/{device}"
        open(target, "w").close()
        mount(f"/dev/{device}", target, None, MS_BIND)
    os.makedirs(root + "/proc")
    mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.makedirs(root + "/.old")
    machine = os.uname().machine
    if machine not in SYS_PIVOT_ROOT:
        raise BoxError(f"pivot_root: unknown machine {machine}")
    check(libc.syscall(SYS_PIVOT_ROOT[machine], root.encode(), (root + "/.old").encode()), "pivot_root")
    os.chdir("/")
    check(libc.umount2(b"/.old", MNT_DETACH), "umount the old root")
    os.rmdir("/.old")
    mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def bind(source: str, target: str) -> None:
    """A read-only bind of ``source`` at ``target``; a symbolic link is copied as a link."""
    if os.path.islink(source):
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.symlink(os.readlink(source), target)
        return
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "w").close()
    mount(source, target, None, MS_BIND | MS_REC)
    # A remount must keep the flags the source mount has (the kernel locks them in a user namespace).
    kept = sum(ms for st, ms in ST_FLAGS_TO_MS.items() if os.statvfs(source).f_flag & st)
    mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | kept)


def init(config: dict) -> None:
    """PID 1 of the namespace: start the worker, reap orphans, and exit with the worker's status."""
    worker = os.fork()
    if worker == 0:
        return  # the caller goes on to confine and exec the worker
    for fd in (config["reply_fd"], config["request_fd"]):  # the grader sees the pipe close when the worker dies
        if fd is not None:
            os.close(fd)
    while True:
        pid, status = os.waitpid(-1, 0)
        if pid == worker:  # exiting ends every other process of the namespace
            os._exit(os.waitstatus_to_exitcode(status) % 256 if not os.WIFSIGNALED(status) else 128 + os.WTERMSIG(status))


# ---------------------------------------------------------------------------- the process itself


def set_limits(limits: dict, confined: bool) -> None:
    mb = 1 << 20
    resource.setrlimit(resource.RLIMIT_DATA, (limits["memory_mb"] * mb,) * 2)
    resource.setrlimit(resource.RLIMIT_CPU, (limits["cpu_seconds"],) * 2)
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits["output_mb"] * mb,) * 2)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if confined:
        resource.setrlimit(resource.RLIMIT_NPROC, (limits["processes"],) * 2)


def deny_sockets() -> None:
    """A seccomp filter: socket() fails with EACCES for every family but AF_UNIX."""
    import errno
    import socket

    import pyseccomp as seccomp

    rules = seccomp.SyscallFilter(defaction=seccomp.ALLOW)
    rules.add_rule(seccomp.ERRNO(errno.EACCES), "socket", seccomp.Arg(0, seccomp.NE, socket.AF_UNIX))
    rules.add_rule(seccomp.ERRNO(errno.EACCES), "socketpair", seccomp.Arg(0, seccomp.NE, socket.AF_UNIX))
    rules.load()


def main(config: dict) -> None:
    box = config["box"]
    if box == "namespaces":
        enter_namespaces(config)
        build_root(config)
        init(config)
    if box == "drop":
        import pyseccomp  # noqa: F401  (loaded before the privileges go, so a missing library stops us here)
    set_limits(config["limits"], confined=box != "none")
    if config.get("uid") is not None:  # a root grader: become the grading run's own unprivileged uid
        os.setgroups([])
        os.setgid(config["gid"])
        os.setuid(config["uid"])
    if box != "none":
        check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")
    if box == "drop":
        deny_sockets()
        check(libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PDEATHSIG)")
    os.chdir(config["cwd"])
    os.execv(config["worker"][0], config["worker"])


if __name__ == "__main__":
    try:
        main(json.loads(sys.argv[1]))
    except Exception as error:  # noqa: BLE001  every failure is the box's, and stops the grading
        print(f"launcher: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
        os._exit(FAILED)
