"""Run an implementation's code in a child process, with limits, and get tensors back.

Tests never import submitted code. They call *probes*: module-level functions
of a probe module (e.g. ``hw1/tests/hw1_probes.py``) that build seeded inputs,
call the implementation and return tensors or plain data:

    worker = Worker(impl_root="/tmp/submission", support_root=kit_root)
    logits = worker.call(hw1_probes.forward_logits, seed=0)   # runs in the child

The probe's source is sent over a pipe, so the child needs no access to the
grader's files; replies are loaded with ``torch.load(weights_only=True)``.
A call that runs past its time limit kills the child and raises
``SubmissionTimeout``; the next call starts a fresh one.
"""
from __future__ import annotations

import ctypes
import inspect
import io
import os
import resource
import select
import signal
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

WORKER_SOURCE = (Path(__file__).resolve().parent / "worker.py").read_text()
CLONE_NEWNET = 0x40000000
MAX_PROCESSES = 256  # threads count too; only enforced for an unprivileged user


# glibc's malloc settings for the processes of a grading run. One heap, and blocks over 128 KB
# (tensors) mapped and unmapped one by one, given back to the system as soon as they are freed:
# the peak of a grading run is then what is really in use, about 100 MB less for hw1
# (docs/benchmarks/grading_hw1.md).
LEAN_MALLOC = {"MALLOC_ARENA_MAX": "1", "MALLOC_MMAP_THRESHOLD_": "131072", "MALLOC_TRIM_THRESHOLD_": "131072"}

class SubmissionError(Exception):
    """The submission raised, crashed or broke a limit; the message is for the student."""


class SubmissionTimeout(SubmissionError):
    """A call ran past its time limit."""


@dataclass(frozen=True)
class Limits:
    """What one worker may use. Memory is the data segment (``RLIMIT_DATA``), which
    caps what torch can allocate without breaking its address-space reservations."""

    call_seconds: float = 120.0   # wall clock, per call
    cpu_seconds: int = 900        # CPU time over the worker's life
    memory_mb: int = 1536         # heap and anonymous mappings
    output_mb: int = 8            # what the submission may print or write into one file
    reply_mb: int = 512           # the largest reply accepted
    startup_seconds: float = 120.0  # importing torch on a loaded machine


@dataclass(frozen=True)
class Identity:
    """The unprivileged user the child runs as, when the grader runs as root."""

    uid: int
    gid: int

    def become(self) -> None:
        """Turn the calling (root) process into this user, for good."""
        os.setgroups([])
        os.setgid(self.gid)
        os.setuid(self.uid)


class Worker:
    """A child Python process that runs probes against one implementation."""

    def __init__(self, impl_root: str | Path, support_root: str | Path, limits: Limits = Limits(),
                 identity: Identity | None = None, env: dict[str, str] | None = None):
        self.impl_root, self.support_root = str(impl_root), str(support_root)
        self.limits, self.identity = limits, identity
        self.env = env or {}
        self.process: subprocess.Popen | None = None
        self.log: tempfile._TemporaryFileWrapper | None = None
        self._sent_modules: set[str] = set()

    # ------------------------------------------------------------------ life cycle

    def start(self) -> None:
        request_read, self._request_write = os.pipe()
        self._reply_read, reply_write = os.pipe()
        if self.log is not None:
            self.log.close()
        self.log = tempfile.TemporaryFile(prefix="worker-output-")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": tempfile.gettempdir(),
            "OMP_NUM_THREADS": "1",
            "MKL_NUM_THREADS": "1",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHONHASHSEED": "0",
            **LEAN_MALLOC,
            **self.env,
        }
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-c", WORKER_SOURCE, self.impl_root, self.support_root,
             str(request_read), str(reply_write)],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
            pass_fds=(request_read, reply_write), cwd=self.impl_root, env=env,
            start_new_session=True, preexec_fn=self._confine,
        )
        os.close(request_read)
        os.close(reply_write)
        self._sent_modules.clear()
        try:
            self._receive(time.monotonic() + self.limits.startup_seconds, self.limits.startup_seconds)
        except SubmissionError as error:
            self.close()
            raise SubmissionError(f"the grader's worker process did not start: {error}") from None

    def _confine(self) -> None:
        """Runs in the child before exec: limits first, then drop privileges."""
        mb = 1 << 20
        resource.setrlimit(resource.RLIMIT_DATA, (self.limits.memory_mb * mb,) * 2)
        resource.setrlimit(resource.RLIMIT_CPU, (self.limits.cpu_seconds,) * 2)
        resource.setrlimit(resource.RLIMIT_FSIZE, (self.limits.output_mb * mb,) * 2)
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if self.identity is not None:
            # A network namespace of its own has only a loopback that is down: no connection
            # leaves the worker. Needs root, which the grader has when it drops privileges.
            ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWNET)
            self.identity.become()
            resource.setrlimit(resource.RLIMIT_NPROC, (MAX_PROCESSES, MAX_PROCESSES))

    def close(self) -> None:
        if self.process is None:
            return
        for fd in (self._request_write, self._reply_read):
            try:
                os.close(fd)
            except OSError:
                pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        if self.identity is not None:  # children that left the process group: end every process of the user
            subprocess.run(["kill", "-9", "-1"], preexec_fn=self.identity.become,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.process.wait()
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
        try:
            self._send(request)
            reply = self._receive(time.monotonic() + limit, limit)
        except SubmissionError:
            self.close()
            raise
        self._sent_modules.add(module)
        if not reply.get("ok"):
            raise SubmissionError(self._describe_error(reply, output_start))
        return reply["value"]

    def _send(self, request: dict) -> None:
        import torch  # here, not at the top: the grader's own process never needs torch

        buffer = io.BytesIO()
        torch.save(request, buffer)
        payload = buffer.getvalue()
        try:
            os.write(self._request_write, struct.pack(">Q", len(payload)))
            view = memoryview(payload)
            while view:
                view = view[os.write(self._request_write, view):]
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
            ready, _, _ = select.select([self._reply_read], [], [], max(remaining, 0))
            if not ready:
                raise SubmissionTimeout(
                    f"the call did not finish within {limit:.0f} seconds (time limit); "
                    f"look for an infinite loop or far more work than the task needs"
                    + self._output_tail(prefix="\nIt printed:\n")
                )
            chunk = os.read(self._reply_read, min(size, 1 << 20))
            if not chunk:
                raise SubmissionError(self._died_message())
            chunks.append(chunk)
            size -= len(chunk)
        return b"".join(chunks)

    # ------------------------------------------------------------------ messages

    def _died_message(self) -> str:
        code = self.process.wait() if self.process is not None else None
        reasons = {
            -signal.SIGKILL: f"it was killed (memory over {self.limits.memory_mb} MB, or killed from outside)",
            -signal.SIGXCPU: f"it used more than {self.limits.cpu_seconds} s of CPU time",
            -signal.SIGXFSZ: f"it printed or wrote more than {self.limits.output_mb} MB",
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


def _student_frames(trace: str, lines: int = 12) -> str:
    """The end of a traceback, without the worker's and probe's own frames."""
    kept = [line for line in trace.splitlines() if not line.startswith("Traceback")]
    kept = [line for line in kept if '"<string>"' not in line]
    return "\n".join(kept[-lines:])
