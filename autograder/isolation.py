"""Which box the grader puts submitted code in, and the proof that it holds (fail closed).

    box = choose_box(workdir, visible=[impl_root, support_root], secrets=[...])

The candidates, strongest first: as root, namespaces with the grading run's own
unprivileged uid, then (where namespaces are refused, as in a default Docker
container) a privilege drop with a seccomp filter; as another user on Linux,
namespaces inside a user namespace. Each candidate is tried for real: a worker
starts in it, and from inside it must fail to read any of ``secrets``, fail to
reach a port this process listens on, and, as root, not be root. The first
candidate that passes is used; if none does, ``IsolationError`` says why, for
the staff, and nothing of the submission runs.
"""
from __future__ import annotations

import os
import site
import socket
import sys
from pathlib import Path

import json
import subprocess

from harness.sandbox import LAUNCHER_FAILED, Box, Limits, launch

INSPECT_SOURCE = (Path(__file__).resolve().parent / "box_probes.py").read_text()

SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc")
# Workers run as uid RUN_UID_BASE + the grader's pid: unique among the gradings running at once
# (each kills every process of its uid when it closes), far above real users and subordinate-uid ranges.
RUN_UID_BASE = 3_000_000_000
NOGROUP = 65534


class IsolationError(RuntimeError):
    """No box could be put in place: the grading must not run (a message for the staff)."""


def python_paths() -> list[str]:
    """The folders of this Python installation (prefixes and site-packages), outermost only."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, str(Path(sys.executable).resolve().parent.parent),
             *site.getsitepackages()}
    paths = sorted(str(Path(p).resolve()) for p in paths if p and Path(p).is_dir())
    outermost = []
    for path in paths:
        if not any(path == kept or path.startswith(kept + os.sep) for kept in outermost):
            outermost.append(path)
    return outermost


def candidates(workdir: Path, visible: list[Path]) -> list[Box]:
    """The boxes to try, strongest first; ``$KIT_ISOLATION`` (a kind) keeps only that kind, to test it."""
    if not sys.platform.startswith("linux"):
        return []
    wanted = os.environ.get("KIT_ISOLATION")
    return [box for box in _candidates(workdir, visible) if wanted in (None, "", box.kind)]


def _candidates(workdir: Path, visible: list[Path]) -> list[Box]:
    root = workdir / "box-root"
    root.mkdir(exist_ok=True)
    binds = tuple(dict.fromkeys([p for p in SYSTEM_PATHS if os.path.lexists(p)] + python_paths()
                                + [str(Path(p).resolve()) for p in visible]))
    if os.geteuid() != 0:
        return [Box("namespaces", user_namespace=True, binds=binds, root=str(root))]
    uid = RUN_UID_BASE + os.getpid()
    return [Box("namespaces", uid=uid, gid=NOGROUP, binds=binds, root=str(root)),
            Box("drop", uid=uid, gid=NOGROUP)]


def check_box(box: Box, impl_root: Path, support_root: Path, secrets: list[Path]) -> list[str]:
    """What is wrong with ``box``, seen from inside it (empty when it holds)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    arguments = json.dumps([[str(p) for p in secrets if p.exists()], listener.getsockname()[1]])
    try:
        process = launch(box, Limits(), [sys.executable, "-I", "-c", INSPECT_SOURCE, arguments], str(impl_root), (),
                         subprocess.PIPE, {"PATH": os.environ.get("PATH", "/usr/bin:/bin")})
        output, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        return ["the box check did not finish within 60 s"]
    finally:
        listener.close()
    text = output.decode(errors="replace").strip()
    if process.returncode == LAUNCHER_FAILED or process.returncode != 0:
        return [f"the box could not be built (exit {process.returncode}): {text[-600:]}"]
    seen = json.loads(text.splitlines()[-1])
    problems = [f"the worker can read {path}" for path, readable in seen["readable"].items() if readable]
    if seen["reached_grader_port"]:
        problems.append("the worker can open network connections")
    if box.kind == "drop" and seen["internet_socket"]:
        problems.append("the worker can create internet sockets (the seccomp filter is not in force)")
    if os.geteuid() == 0 and seen["uid"] == 0:
        problems.append("the worker runs as root")
    return problems


def choose_box(workdir: Path, visible: list[Path], secrets: list[Path]) -> Box:
    """The strongest box that holds on this machine; ``IsolationError`` when none does."""
    impl_root, support_root = visible
    tried = []
    for box in candidates(workdir, visible):
        problems = check_box(box, impl_root, support_root, secrets)
        if not problems:
            return box
        tried.append(f"{box.kind}: " + "; ".join(problems))
    if not tried:
        tried.append(f"{sys.platform}: isolation needs Linux")
    raise IsolationError(
        "no isolation could be put in place for the submitted code, so it was not run.\n  "
        + "\n  ".join(tried)
        + "\nFixes: grade as root (Gradescope, a container or a VM); or allow unprivileged user namespaces "
          "(sysctl kernel.unprivileged_userns_clone=1, or kernel.apparmor_restrict_unprivileged_userns=0); "
          "where only the privilege drop is possible, make the kit unreadable to other users "
          "(chmod -R go-rwx on it). --unsafe-no-isolation runs it unconfined (your own code only).")
