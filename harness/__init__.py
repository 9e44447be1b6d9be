"""The test harness that ships with the homeworks: it runs an implementation's code in a child process.

    plugin    the pytest plugin: fixtures that probe an implementation, checks on what comes back,
              per-test scores (loaded by the kit's conftest.py)
    sandbox   the worker process and its limits: one probe call at a time, only tensors and plain data cross
    worker    the code the worker runs (standard library and torch only)
    launcher  confines the worker before it starts (rlimits, a new identity, a seccomp filter; POSIX only)
    submit    ``python -m harness submit hwN``: check a homework and pack it for Gradescope

The harness imports no dataset or homework module: tests send it the probes they run. The course
staff's tools (``autograder``) build on it; it never imports them.
"""
from pathlib import Path

KIT_ROOT = Path(__file__).resolve().parent.parent  # the folder that holds harness/, data/ and the homeworks
