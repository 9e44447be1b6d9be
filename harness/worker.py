"""The child process that runs submitted code, one probe call at a time.

It is started by ``harness.sandbox.Worker`` as ``python -I -c <this file's
source> IMPL_ROOT SUPPORT_ROOT IN_FD OUT_FD``, so it needs no readable copy of the
grader. ``stdio stdio`` in place of the descriptors (the portable worker, e.g. on
Windows): the protocol runs on standard input and output, and what the code prints
goes to standard error. ``IMPL_ROOT`` (where ``import hwN`` resolves) and ``SUPPORT_ROOT`` (where
``import data`` resolves) head ``sys.path``.

Protocol on the two pipe file descriptors: frames of an 8-byte big-endian
length and a ``torch.save`` payload, loaded with ``weights_only=True`` on both
sides, so only tensors and plain data ever cross.

    first:    {"ok": True, "value": "ready"}, once torch is imported
    request:  {"module": name, "source": text, "function": name, "args": [...], "kwargs": {...}}
    reply:    {"ok": True, "value": ...} or {"ok": False, "error": "Type: message", "traceback": text}

This file imports only the standard library and torch.
"""
import io
import os
import struct
import sys
import traceback
import types


def read_exactly(fd, size):
    chunks = []
    while size:
        chunk = os.read(fd, min(size, 1 << 20))
        if not chunk:
            raise EOFError
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def serve(impl_root, support_root, in_fd, out_fd):
    sys.path[:0] = [impl_root, support_root]
    import torch

    torch.set_num_threads(1)
    modules = {}

    def send(message):
        buffer = io.BytesIO()
        try:
            torch.save(message, buffer)
        except Exception as error:  # the value is not plain data or tensors
            buffer = io.BytesIO()
            torch.save({"ok": False, "error": f"the result cannot be sent back: {type(error).__name__}: {error}",
                        "traceback": ""}, buffer)
        payload = buffer.getvalue()
        os.write(out_fd, struct.pack(">Q", len(payload)))
        view = memoryview(payload)
        while view:
            view = view[os.write(out_fd, view):]

    # The course staff's selftest: a call that loads one of these modules fails, once (pytest's --forbid-imports).
    forbidden = [name for name in os.environ.get("KIT_FORBIDDEN_IMPORTS", "").split(",") if name]
    send({"ok": True, "value": "ready"})  # the parent's call clocks start after this
    while True:
        try:
            (size,) = struct.unpack(">Q", read_exactly(in_fd, 8))
            request = torch.load(io.BytesIO(read_exactly(in_fd, size)), weights_only=True)
        except EOFError:
            return
        try:
            module = modules.get(request["module"])
            if module is None:
                module = types.ModuleType(request["module"])
                module.__file__ = request["module"] + ".py"
                exec(compile(request["source"], module.__file__, "exec"), module.__dict__)
                modules[request["module"]] = module
            value = getattr(module, request["function"])(*request["args"], **request["kwargs"])
            loaded = [name for name in forbidden if name in sys.modules]
            if loaded:
                forbidden = [name for name in forbidden if name not in loaded]
                raise ImportError(f"this call loaded {', '.join(loaded)} into the worker (--forbid-imports): "
                                  f"tens of MB that the grading would hold to its end")
            reply = {"ok": True, "value": value}
        except BaseException as error:  # everything the submission raises becomes a reply
            if isinstance(error, KeyboardInterrupt):
                raise
            reply = {"ok": False, "error": f"{type(error).__name__}: {error}", "traceback": traceback.format_exc()}
        sys.stdout.flush()
        sys.stderr.flush()
        send(reply)


def standard_streams():
    """(in, out) descriptors of the protocol on standard input and output; prints then go to stderr."""
    out_fd = os.dup(1)
    os.dup2(2, 1)
    if sys.platform == "win32":  # binary pipes: no newline translation
        import msvcrt

        for fd in (0, out_fd):
            msvcrt.setmode(fd, os.O_BINARY)
    return 0, out_fd


if __name__ == "__main__":
    in_fd, out_fd = standard_streams() if sys.argv[3] == "stdio" else (int(sys.argv[3]), int(sys.argv[4]))
    serve(sys.argv[1], sys.argv[2], in_fd, out_fd)
