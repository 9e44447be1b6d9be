"""The reference implementation, where the kit has it: the staff's runs and the grader, never students.

Which implementation ``import hwN`` gives is decided here and in the harness's ``--impl``, nowhere else:

    pytest --impl solution ...                   the tests probe the reference (this module is a pytest
                                                 plugin, loaded by the kit's conftest.py)
    python -m autograder reference hw1.main ARGS run a homework's command on the reference (staff's
                                                 training runs, CI's smoke runs)
    use_reference()                              in a staff script: ``import hwN`` gives the reference

Each assembles the reference packages (``Kit.assemble_reference``) into a temporary folder of its
own (mode 0700: a worker under another identity cannot read it), removed when the process ends.
"""
from __future__ import annotations

import atexit
import importlib
import io
import re
import runpy
import shutil
import sys
import tempfile
from functools import cache
from pathlib import Path

import pytest

from autograder.kit import Kit
from harness import KIT_ROOT
from harness.plugin import REFERENCE_ROOT, REFERENCE_RUNNER

HOMEWORK_MODULE = re.compile(r"^hw\d+$")


@cache
def reference_root(kit_root: Path = KIT_ROOT) -> Path:
    """A folder where ``import hwN`` resolves to the complete reference of every homework of the kit
    at ``kit_root`` (assembled once per process)."""
    root = Path(tempfile.mkdtemp(prefix="kit-reference-"))
    atexit.register(shutil.rmtree, root, ignore_errors=True)
    return Kit(kit_root).assemble_reference(root)


def use_reference(root: Path | None = None) -> Path:
    """Make ``import hwN`` resolve to the reference (at ``root``, by default this kit's) in this process;
    homework modules already loaded from elsewhere are dropped. Returns the reference's root."""
    root = root or reference_root()
    stale = [name for name, module in sys.modules.items() if HOMEWORK_MODULE.match(name.split(".")[0])
             and ".tests" not in name and not str(getattr(module, "__file__", "") or "").startswith(str(root))]
    for name in stale:
        del sys.modules[name]
    if not sys.path or sys.path[0] != str(root):
        sys.path.insert(0, str(root))
    if stale:
        importlib.invalidate_caches()
    return root


class InProcessReference:
    """Runs probes on the reference inside the trusted process (the ``reference`` and ``evaluator`` fixtures).

    Results take the same ``torch.save``/``torch.load(weights_only=True)`` round trip as a worker's,
    so a probe behaves the same on both sides. Each call re-asserts the reference's modules: test
    collection may have imported the implementation's packages in between."""

    def __init__(self, root: Path):
        self.root = root

    def call(self, probe, *args, timeout=None, **kwargs):
        import torch  # noqa: PLC0415  (the grader's own process imports this module without needing torch)

        use_reference(self.root)
        buffer = io.BytesIO()
        torch.save(probe(*args, **kwargs), buffer)
        buffer.seek(0)
        return torch.load(buffer, weights_only=True)


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    kit = Kit(Path(config.rootpath))  # the kit whose tests run (the staff's tests use a small kit of their own)
    if kit.homeworks():
        config.stash[REFERENCE_ROOT] = reference_root(kit.root)
        config.stash[REFERENCE_RUNNER] = InProcessReference(config.stash[REFERENCE_ROOT])


def run_main(args) -> int:
    """``python -m autograder reference MODULE ARGS``: run a homework's module as ``__main__`` on the reference."""
    module = args.module
    if not HOMEWORK_MODULE.match(module.split(".")[0]):
        raise SystemExit(f"reference: {module!r} is not a homework module (for example hw1.main)")
    use_reference()
    sys.argv = [module, *args.arguments]
    runpy.run_module(module, run_name="__main__", alter_sys=True)
    return 0
