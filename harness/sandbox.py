"""Run an implementation's code in a child process, with limits, and get tensors back.

Tests never import submitted code. They call *probes*: module-level functions
of a probe module (e.g. ``hw1/tests/hw1_probes.py``) that build seeded inputs,
call the implementation and return tensors or plain data:

    worker = Worker(impl_root="/tmp/submission", support_root=kit_root)
    logits = worker.call(hw1_probes.forward_logits, seed=0)   # runs in the child

The probe's source is sent over a pipe, so the child needs no access to the
grader's files; replies are loaded with ``torch.load(weights_only=True)``.
A call that runs past its time limit (reading, writing or computing) kills the
child and raises ``SubmissionTimeout``; the next call starts a fresh one.

How the child is confined is a ``Box`` (see ``launcher.py``, which builds it,
and ``isolation.py``, which chooses it). Where the system has no ``fork`` (native
Windows, a student's machine), the worker is *portable*: started directly with the
pipes as its standard input and output, no box and no limits, and the call deadlines
kept by threads, since ``select`` cannot wait on pipes there. In a box, a watchdog thread of this
process sums the memory of every process of the worker, shared mappings and
shared-memory files included, and kills them all past the limit.
"""
from __future__ import annotations

import inspect
import io
import json
import os
import queue
import select
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKER_SOURCE = (HERE / "worker.py").read_text()
LAUNCHER_SOURCE = (HERE / "launcher.py").read_text()
LAUNCHER_FAILED = 71  # launcher.FAILED: the box could not be built
# No fork: no pass_fds, process groups, rlimits or select() on pipes (native Windows). KIT_PORTABLE_WORKER=1
# forces the portable worker elsewhere, to test it.
PORTABLE = not hasattr(os, "fork") or os.environ.get("KIT_PORTABLE_WORKER") == "1"


# glibc's malloc settings for the processes of a grading run. One heap, and blocks over 128 KB
# (tensors) mapped and unmapped one by one, given back to the system as soon as they are freed:
# the peak of a grading run is then what is really in use, about 100 MB less for hw1
# (docs/benchmarks/grading_hw1.md).
LEAN_MALLOC = {"MALLOC_ARENA_MAX": "1", "MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_TRIM_THRESHOLD_": "131072"}
# The worker's environment variable for pytest's --forbid-imports (worker.py reads it).
FORBIDDEN_IMPORTS = "KIT_FORBIDDEN_IMPORTS"


def trim_heap() -> None:
    """Give the heap's free pages back to the system (glibc's malloc_trim; elsewhere nothing).

    Freed blocks under the mmap threshold stay in the heap wherever a live block sits above them:
    hw3's checkpoint tests left some 60 MB of free heap in the trusted process, counted against the
    grading's memory for the rest of the run."""
    try:
        import ctypes

        ctypes.CDLL(None).malloc_trim(0)
    except Exception:  # not glibc (macOS, Windows)
        pass


class SubmissionError(Exception):
    """The submission raised, crashed or broke a limit; the message is for the student."""


class SubmissionTimeout(SubmissionError):
    """A call ran past its time limit."""


@dataclass(frozen=True)
class Limits:
    """What one worker may use. ``memory_mb`` is both the data-segment limit (``RLIMIT_DATA``,
    which caps what torch can allocate without breaking its address-space reservations) and,
    in a box, the watchdog's limit on the proportional memory of all the worker's processes."""

    call_seconds: float = 120.0   # wall clock, per call
    cpu_seconds: int = 900        # CPU time over the worker's life
    memory_mb: int = 1536         # heap and anonymous mappings
    output_mb: int = 8            # what the submission may print or write into one file
    reply_mb: int = 512           # the largest reply accepted
    startup_seconds: float = 120.0  # importing torch on a loaded machine
    processes: int = 256          # threads count too (boxes only)
    tmpfs_mb: int = 64            # the private /tmp and /dev/shm of a namespaces box, each


@dataclass(frozen=True)
class MemoryBudget:
    """The memory a whole grading may use (on Gradescope, its container's), shared by the worker with
    the trusted processes of the grading: the worker may use what they leave, at most its own limit."""

    total_mb: int
    trusted_pids: tuple[int, ...]     # the grader's processes (pytest, ``python -m autograder grade``)

    def trusted_bytes(self) -> int:
        seen: set = set()
        return sum(process_memory(str(pid), seen) for pid in self.trusted_pids)


@dataclass(frozen=True)
class Box:
    """How the worker is confined; ``launcher.py`` builds it (kinds: none, namespaces, drop)."""

    kind: str = "none"
    uid: int | None = None            # a root grader's unprivileged uid for the worker
    gid: int | None = None
    user_namespace: bool = False      # namespaces made by a grader that is not root
    binds: tuple[str, ...] = field(default_factory=tuple)  # host paths the worker sees, read-only
    root: str | None = None           # an empty folder on which the worker's root is mounted

    def describe(self) -> str:
        if self.kind == "namespaces":
            who = f"as uid {self.uid}" if self.uid is not None else "in a user namespace as the grader's own user"
            return (f"namespaces ({who}): own root file system showing only the Python installation, system "
                    f"libraries and the code under test, read-only; no network; own PID namespace; memory watchdog")
        if self.kind == "drop":
            return (f"privilege drop to uid {self.uid}: files readable by others only; seccomp filter denying "
                    f"network sockets; memory watchdog (shared memory included)")
        return "none: the code runs as the grader's user, with resource limits only"

    @staticmethod
    def from_json(text: str) -> "Box":
        fields = json.loads(text)
        fields["binds"] = tuple(fields.get("binds", ()))
        return Box(**fields)

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def launch(box: Box, limits: Limits, argv: list[str], cwd: str, pass_fds: tuple[int, ...], stdout, env: dict):
    """Start ``argv`` in ``box`` (through ``launcher.py``) in a session of its own; returns the Popen."""
    config = {**json.loads(box.to_json()), "box": box.kind,
              "limits": {"memory_mb": limits.memory_mb, "cpu_seconds": limits.cpu_seconds,
                         "output_mb": limits.output_mb, "processes": limits.processes},
              "tmpfs_mb": limits.tmpfs_mb, "cwd": cwd, "worker": argv,
              "request_fd": pass_fds[0] if pass_fds else None, "reply_fd": pass_fds[1] if pass_fds else None}
    return subprocess.Popen([sys.executable, "-I", "-c", LAUNCHER_SOURCE, json.dumps(config)],
                            stdin=subprocess.DEVNULL, stdout=stdout, stderr=subprocess.STDOUT,
                            pass_fds=pass_fds, cwd="/", env=env, start_new_session=True)


class Worker:
    """A child Python process that runs probes against one implementation."""

    def __init__(self, impl_root: str | Path, support_root: str | Path, limits: Limits = Limits(),
                 box: Box = Box(), env: dict[str, str] | None = None, exit_grace_seconds: float = 0.0,
                 budget: MemoryBudget | None = None):
        self.impl_root, self.support_root = str(impl_root), str(support_root)
        self.limits, self.box, self.budget = limits, box, budget
        self.env = env or {}
        self.exit_grace_seconds = exit_grace_seconds  # time to exit by itself once its pipe closes (e.g. to save coverage)
        self.process: subprocess.Popen | None = None
        self.log: tempfile._TemporaryFileWrapper | None = None
        self.watchdog: MemoryWatchdog | None = None
        self.portable = PORTABLE
        if self.portable and box.kind != "none":
            raise BoxFailure(f"the {box.kind} box needs Linux; this system can only run the portable worker (no box)")
        self._replies: ThreadedReader | None = None
        self._sent_modules: set[str] = set()

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        request_read, self._request_write = os.pipe()
        self._reply_read, reply_write = os.pipe()
        if not self.portable:
            os.set_blocking(self._request_write, False)
        if self.log is not None:
            self.log.close()
        self.log = tempfile.TemporaryFile(prefix="worker-output-")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": "/tmp" if self.box.kind == "namespaces" else tempfile.gettempdir(),
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0",
            **LEAN_MALLOC,
            **self.env,
        }
        if self.portable:  # the pipes are the worker's standard input and output; what it prints goes to the log
            worker = [sys.executable, "-I", "-c", WORKER_SOURCE, self.impl_root, self.support_root, "stdio", "stdio"]
            self.process = subprocess.Popen(worker, stdin=request_read, stdout=reply_write, stderr=self.log,
                                            cwd=self.impl_root, env={**os.environ, **env})
            self._replies = ThreadedReader(self._reply_read)
        else:
            worker = [sys.executable, "-I", "-c", WORKER_SOURCE, self.impl_root, self.support_root,
                      str(request_read), str(reply_write)]
            self.process = launch(self.box, self.limits, worker, self.impl_root, (request_read, reply_write), self.log, env)
        os.close(request_read)
        os.close(reply_write)
        self._sent_modules.clear()
        if self.box.kind != "none":
            self.watchdog = MemoryWatchdog(self.process.pid, self.box.uid, self.limits.memory_mb, self.kill, self.budget)
            self.watchdog.start()
        try:
            self._receive(time.monotonic() + self.limits.startup_seconds, self.limits.startup_seconds)
        except SubmissionError as error:
            box_failed = self.process.poll() == LAUNCHER_FAILED and "launcher:" in self.output()
            self.close()
            if box_failed:
                raise BoxFailure(f"the worker's box ({self.box.kind}) could not be built: {self.output().strip()[-600:]}")
            raise SubmissionError(f"the grader's worker process did not start: {error}") from None

    def kill(self) -> None:
        """Kill every process of the worker (its process group; its namespace; its uid)."""
        if self.process is None:
            return
        if self.portable:
            self.process.kill()
            return
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # a namespace's init dies with it (PDEATHSIG)
        except (ProcessLookupError, PermissionError):
            pass
        if self.box.uid is not None:  # children that left the process group: end every process of the uid
            kill_uid(self.box.uid)

    def close(self) -> None:
        if self.process is None:
            return
        if self.watchdog is not None:
            self.watchdog.stop()
        # A portable worker's reply pipe belongs to its reader thread, which closes it at the end of the output.
        for fd in (self._request_write,) if self.portable else (self._request_write, self._reply_read):
            try:
                os.close(fd)
            except OSError:
                pass
        if self.exit_grace_seconds:
            try:
                self.process.wait(self.exit_grace_seconds)
            except subprocess.TimeoutExpired:
                pass
        self.kill()
        self.process.wait()
        if self.box.uid is not None:
            remove_shared_memory_files(self.box.uid)
        self.process = None

    def __enter__(self) -> "Worker":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
        if self.log is not None:
            self.log.close()

    # ------------------------------------------------------------------ calls

    def call(self, probe, *args, timeout: float | None = None, **kwargs):
        """Run ``probe(*args, **kwargs)`` in the child and return its (loaded) value."""
        __tracebackhide__ = True  # pytest shows the test's line and the submission's traceback, not this code
        if self.process is None or self.process.poll() is not None:
            self.close()
            self.start()
        module = probe.__module__
        request = {"module": module, "function": probe.__name__, "args": list(args), "kwargs": kwargs,
                   "source": "" if module in self._sent_modules else Path(inspect.getsourcefile(probe)).read_text()}
        if module in self._sent_modules:
            request.pop("source")
        limit = self.limits.call_seconds if timeout is None else timeout
        self.log.seek(0, io.SEEK_END)
        output_start = self.log.tell()
        deadline = time.monotonic() + limit
        try:
            self._send(request, deadline, limit)
            reply = self._receive(deadline, limit)
        except SubmissionError:
            self.close()
            raise
        self._sent_modules.add(module)
        if not reply.get("ok"):
            raise SubmissionError(self._describe_error(reply, output_start))
        return reply["value"]

    def _send(self, request: dict, deadline: float, limit: float) -> None:
        """Write one request frame; a worker that stops reading cannot block the grader past ``deadline``."""
        import torch  # here, not at the top: the grader's own process never needs torch

        buffer = io.BytesIO()
        torch.save(request, buffer)
        payload = buffer.getvalue()
        view = memoryview(struct.pack(">Q", len(payload)) + payload)
        if self.portable:
            if not write_before(self._request_write, view, deadline):
                self.kill()
                raise SubmissionTimeout(f"the call did not finish within {limit:.0f} seconds (time limit): "
                                        f"the submission's process stopped reading its input")
            return
        try:
            while view:
                _, ready, _ = select.select([], [self._request_write], [], max(deadline - time.monotonic(), 0))
                if not ready:
                    raise SubmissionTimeout(f"the call did not finish within {limit:.0f} seconds (time limit): "
                                            f"the submission's process stopped reading its input")
                view = view[os.write(self._request_write, view[:1 << 16]):]
        except BrokenPipeError:
            raise SubmissionError(self._died_message()) from None

    def _receive(self, deadline: float, limit: float) -> dict:
        import torch

        header = self._read(8, deadline, limit)
        (size,) = struct.unpack(">Q", header)
        if size > self.limits.reply_mb << 20:
            raise SubmissionError(f"the submission replied with {size >> 20} MB, more than the {self.limits.reply_mb} MB allowed")
        try:
            reply = torch.load(io.BytesIO(self._read(size, deadline, limit)), weights_only=True)
        except Exception as error:
            lines = [line for line in str(error).splitlines() if "Unsupported global" in line]
            detail = lines[0].strip() if lines else type(error).__name__
            raise SubmissionError(f"the result is not made of tensors and plain data only ({detail[:300]})") from None
        if not isinstance(reply, dict):
            raise SubmissionError("the submission tampered with the grader's channel")
        return reply

    def _read(self, size: int, deadline: float, limit: float) -> bytes:
        chunks = []
        while size:
            remaining = deadline - time.monotonic()
            if self.portable:
                chunk = self._replies.read(size, max(remaining, 0))
                ready = chunk is not None
            else:
                ready, _, _ = select.select([self._reply_read], [], [], max(remaining, 0))
            if not ready:
                raise SubmissionTimeout(
                    f"the call did not finish within {limit:.0f} seconds (time limit); "
                    f"look for an infinite loop or far more work than the task needs"
                    + self._output_tail(prefix="\nIt printed:\n")
                )
            if not self.portable:
                chunk = os.read(self._reply_read, min(size, 1 << 20))
            if not chunk:
                raise SubmissionError(self._died_message())
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    # ------------------------------------------------------------------ messages

    def _died_message(self) -> str:
        code = self.process.wait() if self.process is not None else None
        if self.box.kind == "namespaces" and code is not None and code > 128:  # the launcher passes a signal on as 128 + it
            code = 128 - code
        if self.watchdog is not None and self.watchdog.exceeded_mb:
            return "the submission's process stopped: " + self.watchdog.verdict() + self._output_tail(prefix="\nIt printed:\n")
        reasons = {  # (Windows has only some of these signals)
            -getattr(signal, "SIGKILL", 9): f"it was killed (memory over {self.limits.memory_mb} MB, or killed from outside)",
            -getattr(signal, "SIGXCPU", 24): f"it used more than {self.limits.cpu_seconds} s of CPU time",
            -getattr(signal, "SIGXFSZ", 25): f"it printed or wrote more than {self.limits.output_mb} MB",
            -signal.SIGSEGV: "it crashed (segmentation fault)",
        }
        reason = reasons.get(code, f"it exited with status {code}")
        if self.log is not None and os.fstat(self.log.fileno()).st_size >= self.limits.output_mb << 20:
            reason = f"it printed more than {self.limits.output_mb} MB (output limit)"
        return f"the submission's process stopped: {reason}" + self._output_tail(prefix="\nIt printed:\n")

    def _describe_error(self, reply: dict, output_start: int) -> str:
        message = reply.get("error", "unknown error")
        if "MemoryError" in message or "can't allocate memory" in message:
            message += f"\n(the memory limit is {self.limits.memory_mb} MB)"
        if "File too large" in message:
            message += f"\n(the output limit is {self.limits.output_mb} MB: print less)"
        trace = _student_frames(str(reply.get("traceback", "")))
        return message + (f"\n{trace}" if trace else "") + self._output_tail(output_start, prefix="\nIt printed:\n")

    def output(self, start: int = 0) -> str:
        """What the child printed since byte ``start`` of its log."""
        if self.log is None:
            return ""
        self.log.flush()
        self.log.seek(start)
        return self.log.read(self.limits.output_mb << 20).decode(errors="replace")

    def _output_tail(self, start: int = 0, prefix: str = "", chars: int = 1500) -> str:
        text = self.output(start).strip()
        if not text:
            return ""
        return prefix + ("..." + text[-chars:] if len(text) > chars else text)


# Frames of no interest to a student: the worker's own, and torch's module-call plumbing.
PLUMBING = ('"<string>"', f"torch{os.sep}nn{os.sep}modules{os.sep}module.py")


def _student_frames(trace: str, lines: int = 12) -> str:
    """The end of a traceback, without the worker's frames and torch's ``Module.__call__`` plumbing."""
    kept, skipping = [], False
    for line in trace.splitlines():
        if line.startswith("Traceback"):
            continue
        if line.startswith('  File "'):
            skipping = any(mark in line for mark in PLUMBING)
        elif not line.startswith("    "):  # the exception itself
            skipping = False
        if not skipping:
            kept.append(line)
    return "\n".join(kept[-lines:])


class BoxFailure(RuntimeError):
    """The worker's box could not be built: a problem of the grading machine, for the staff."""


# ---------------------------------------------------------------------------- pipes without select (portable)


class ThreadedReader:
    """Reads a pipe in a thread of its own, so that a read can wait with a timeout where ``select``
    cannot wait on pipes. The thread owns the descriptor and closes it at the end of the output."""

    def __init__(self, fd: int):
        self._chunks: queue.Queue[bytes] = queue.Queue()
        self._pending = b""
        self._ended = False
        threading.Thread(target=self._pump, args=(fd,), daemon=True, name="worker-replies").start()

    def _pump(self, fd: int) -> None:
        try:
            while True:
                chunk = os.read(fd, 1 << 20)
                self._chunks.put(chunk)
                if not chunk:
                    return
        except OSError:
            self._chunks.put(b"")
        finally:
            os.close(fd)

    def read(self, size: int, timeout: float) -> bytes | None:
        """At most ``size`` bytes; b"" at the end of the output; None if nothing came within ``timeout``."""
        if not self._pending and not self._ended:
            try:
                self._pending = self._chunks.get(timeout=timeout)
            except queue.Empty:
                return None
            self._ended = not self._pending
        chunk, self._pending = self._pending[:size], self._pending[size:]
        return chunk


def write_before(fd: int, data: memoryview, deadline: float) -> bool:
    """Write all of ``data`` from a thread; False if it was not done by ``deadline`` (the reader stopped)."""
    def write_all():
        view = data
        try:
            while view:
                view = view[os.write(fd, view):]
        except OSError:
            pass
    writer = threading.Thread(target=write_all, daemon=True, name="worker-requests")
    writer.start()
    writer.join(max(deadline - time.monotonic(), 0))
    return not writer.is_alive()


# ---------------------------------------------------------------------------- processes and memory


def _proc_status(pid: str) -> dict[str, str]:
    with open(f"/proc/{pid}/status") as handle:
        return dict(line.split(":", 1) for line in handle if ":" in line)


def worker_processes(root_pid: int, uid: int | None) -> list[str]:
    """Pids of ``root_pid``'s descendants (itself included), and of every process of ``uid``."""
    children: dict[str, list[str]] = {}
    found = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = _proc_status(pid)
        except OSError:
            continue
        children.setdefault(status["PPid"].strip(), []).append(pid)
        if uid is not None and int(status["Uid"].split()[1]) == uid:
            found.add(pid)
    stack = [str(root_pid)]
    while stack:
        pid = stack.pop()
        found.add(pid)
        stack.extend(children.get(pid, ()))
    return sorted(found)


def process_memory(pid: str, seen_files: set) -> int:
    """Bytes of ``pid``: its proportional set size (its resident size where that cannot be read),
    plus shared-memory files and memfds it holds open, each counted once."""
    total = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            total = next(int(line.split()[1]) << 10 for line in handle if line.startswith("Pss:"))
    except (OSError, StopIteration, ValueError):
        try:
            total = int(_proc_status(pid).get("VmRSS", "0 kB").split()[0]) << 10
        except (OSError, ValueError):
            return 0
    try:
        descriptors = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return total
    for fd in descriptors:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith(("/memfd:", "/dev/shm/")):
                total += bytes_once(os.stat(f"/proc/{pid}/fd/{fd}"), seen_files)
        except OSError:
            continue
    return total


def bytes_once(stat: os.stat_result, seen: set) -> int:
    """The bytes a file holds, the first time its inode is seen (a file open twice counts once)."""
    if (stat.st_dev, stat.st_ino) in seen:
        return 0
    seen.add((stat.st_dev, stat.st_ino))
    return stat.st_blocks * 512


def shared_memory_files(uid: int) -> list[Path]:
    """Files and folders of ``uid`` in /dev/shm (memory that outlives the processes that wrote it)."""
    found = []
    for folder, names, files in os.walk("/dev/shm"):
        for name in names + files:
            path = Path(folder) / name
            try:
                if path.lstat().st_uid == uid:
                    found.append(path)
            except OSError:
                continue
    return found


def remove_shared_memory_files(uid: int) -> None:
    for path in sorted(shared_memory_files(uid), key=lambda p: len(p.parts), reverse=True):
        try:
            path.rmdir() if path.is_dir() and not path.is_symlink() else path.unlink()
        except OSError:
            pass


def kill_uid(uid: int) -> None:
    """SIGKILL every process of ``uid``, from a child that becomes that uid (so nothing else is hit)."""
    def become():
        os.setgroups([])
        os.setgid(65534)
        os.setuid(uid)
    subprocess.run(["kill", "-9", "-1"], preexec_fn=become, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


WORKER_FLOOR_MB = 256  # a worker that imported torch and ran a probe or two: less is never the submission's doing


class MemoryWatchdog(threading.Thread):
    """Kills the worker when its processes together hold more than they may.

    Counts each process's proportional set size (so shared mappings count), the
    shared-memory files and memfds they hold open, and, for a uid of its own,
    the files that uid left in /dev/shm. They may hold ``limit_mb``, and with a
    ``budget`` at most what the grading's trusted processes leave of it: past the
    container's limit the kernel would kill a process of its own choosing, perhaps
    the grader, while this kills the worker and says why."""

    def __init__(self, root_pid: int, uid: int | None, limit_mb: int, kill, budget: MemoryBudget | None = None,
                 interval: float = 0.2):
        super().__init__(daemon=True, name="memory-watchdog")
        self.root_pid, self.uid, self.limit, self.kill_worker = root_pid, uid, limit_mb << 20, kill
        self.budget, self.interval = budget, interval
        self.exceeded_mb = 0      # what the worker held when it was killed
        self.trusted_mb = 0       # what the grader held then (with a budget)
        self._stop_event = threading.Event()

    def usage(self) -> int:
        seen: set = set()
        total = sum(process_memory(pid, seen) for pid in worker_processes(self.root_pid, self.uid))
        if self.uid is not None:
            for path in shared_memory_files(self.uid):
                try:
                    total += bytes_once(path.lstat(), seen)
                except OSError:
                    continue
        return total

    def allowance(self) -> tuple[int, int]:
        """(the bytes the worker may hold now, the bytes the trusted processes hold)."""
        if self.budget is None:
            return self.limit, 0
        trusted = self.budget.trusted_bytes()
        return min(self.limit, (self.budget.total_mb << 20) - trusted), trusted

    def run(self) -> None:
        while not self._stop_event.wait(self.interval):
            used = self.usage()
            allowed, trusted = self.allowance()
            if used > allowed:
                self.exceeded_mb, self.trusted_mb = used >> 20, trusted >> 20
                self.kill_worker()
                return

    def verdict(self) -> str:
        """Why the worker was killed, for the student (and, where the grader starved it, for the staff)."""
        if self.budget is None or self.exceeded_mb + self.trusted_mb <= self.budget.total_mb:
            return f"its processes used {self.exceeded_mb} MB, over the {self.limit >> 20} MB memory limit"
        if self.grader_starved_it():
            return (f"the grader itself held {self.trusted_mb} MB of the {self.budget.total_mb} MB that a whole grading "
                    f"may use, so your code was stopped at {self.exceeded_mb} MB. This is a problem of the grading "
                    f"machine, not of your code: please tell the course staff (KIT_GRADING_MEMORY_MB sets the budget)")
        return (f"its processes used {self.exceeded_mb} MB; with the {self.trusted_mb} MB that the grader itself "
                f"needs, that is over the memory limit of a whole grading, {self.budget.total_mb} MB (the grading "
                f"machine's memory). Use less memory: smaller batches, no copies of the data set")

    def grader_starved_it(self) -> bool:
        """Killed because the trusted processes left the worker less than any worker needs."""
        return self.budget is not None and self.budget.total_mb - self.trusted_mb < WORKER_FLOOR_MB

    def stop(self) -> None:
        self._stop_event.set()
