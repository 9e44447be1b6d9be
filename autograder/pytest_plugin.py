"""pytest plugin of the kit: which implementation the tests probe, and what they scored.

Fixtures for tests:
    impl         a ``sandbox.Worker`` running the implementation under test
    impl_root    the folder in which ``import hwN`` resolves for ``impl``
    reference    runs probes on the reference solution (staff and grader only)
    grader_seed  seeds the tasks that accuracy tests sample (``--grader-seed``)

For accuracy tests: ``load_submitted_checkpoint`` reads a submitted checkpoint on the trusted side.

Options:
    --impl student|solution|DIR   student: this tree's hwN/ (default); solution: autograder/solutions;
                                  DIR: a folder holding hwN/ (what the grader builds from a submission)
    --results-json FILE           write each test's score, weight, number, visibility and output
"""
from __future__ import annotations

import importlib
import io
import json
import os
import re
import sys
from pathlib import Path

import pytest
import torch

from autograder.sandbox import Identity, Limits, SubmissionError, Worker

KIT_ROOT = Path(__file__).resolve().parent.parent  # where the shared data/ package lives
HOMEWORK_MODULE = re.compile(r"^hw\d+$")


def pytest_addoption(parser):
    group = parser.getgroup("kit", "meta-learning course kit")
    group.addoption("--impl", default="student", help="student (default), solution, or a folder holding hwN/")
    group.addoption("--grader-seed", type=int, default=0, help="seed of the tasks that accuracy tests sample")
    group.addoption("--results-json", default=None, help="write per-test scores to this JSON file")
    group.addoption("--support-root", default=str(KIT_ROOT), help="folder where the worker imports data/ from")
    group.addoption("--sandbox-user", default=None, help="uid:gid the worker runs as (the grader, as root)")
    group.addoption("--call-timeout", type=float, default=float(os.environ.get("KIT_CALL_TIMEOUT", Limits.call_seconds)),
                    help="seconds per probe call (default: $KIT_CALL_TIMEOUT or 120)")
    group.addoption("--memory-mb", type=int, default=Limits.memory_mb, help="memory limit of the worker")


def solutions_root(config) -> Path:
    """The reference packages of the kit that pytest runs in (its rootdir)."""
    return Path(config.rootpath) / "autograder" / "solutions"


def resolve_impl_root(config) -> Path:
    choice = config.getoption("impl")
    if choice == "student":
        return Path(config.rootpath)
    if choice == "solution":
        if not solutions_root(config).is_dir():
            raise pytest.UsageError("--impl solution: this tree has no autograder/solutions (the student release does not)")
        return solutions_root(config)
    root = Path(choice).resolve()
    if not root.is_dir():
        raise pytest.UsageError(f"--impl {choice}: no such folder")
    return root


@pytest.fixture(scope="session")
def impl_root(pytestconfig) -> Path:
    return resolve_impl_root(pytestconfig)


@pytest.fixture(scope="session")
def impl(pytestconfig, impl_root):
    identity = None
    if pytestconfig.getoption("sandbox_user"):
        uid, gid = (int(part) for part in pytestconfig.getoption("sandbox_user").split(":"))
        identity = Identity(uid, gid)
    limits = Limits(call_seconds=pytestconfig.getoption("call_timeout"), memory_mb=pytestconfig.getoption("memory_mb"))
    env = {name: os.environ[name] for name in ("OMNIGLOT_CACHE",) if name in os.environ}
    if "OMNIGLOT_CACHE" not in env:
        from data.omniglot import cache_dir

        env["OMNIGLOT_CACHE"] = str(cache_dir())
    with Worker(impl_root, pytestconfig.getoption("support_root"), limits, identity, env) as worker:
        yield worker


class InProcessReference:
    """Runs probes on the reference solution inside the trusted process.

    Results take the same ``torch.save``/``torch.load(weights_only=True)`` round
    trip as a worker's, so a probe behaves the same on both sides.
    """

    def __init__(self, solutions_root: Path):
        self.solutions_root = solutions_root
        for name in [n for n in sys.modules if HOMEWORK_MODULE.match(n.split(".")[0])]:
            if ".tests" not in name:  # keep the collected test modules
                del sys.modules[name]
        sys.path.insert(0, str(solutions_root))
        importlib.invalidate_caches()

    def call(self, probe, *args, timeout=None, **kwargs):
        buffer = io.BytesIO()
        torch.save(probe(*args, **kwargs), buffer)
        buffer.seek(0)
        return torch.load(buffer, weights_only=True)


@pytest.fixture(scope="session")
def reference(pytestconfig):
    if not solutions_root(pytestconfig).is_dir():
        pytest.fail("this test compares with the reference solution, which only the course staff have")
    return InProcessReference(solutions_root(pytestconfig))


@pytest.fixture(scope="session")
def grader_seed(pytestconfig) -> int:
    return pytestconfig.getoption("grader_seed")


def load_submitted_checkpoint(impl_root: Path, hw: str, name: str, keys: list[str]) -> dict:
    """``<impl_root>/<hw>/checkpoints/<name>``, loaded here on the trusted side (weights only, no code).

    Fails the calling test with a message that says what to do when the file is missing, is not a
    checkpoint, or lacks one of ``keys``.
    """
    path = impl_root / hw / "checkpoints" / name
    assert path.is_file(), f"{hw}/checkpoints/{name} is missing: train it (see the handout) and submit it"
    try:
        checkpoint = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as error:
        raise AssertionError(f"{name} is not a checkpoint written by {hw}/main.py ({error})") from None
    described = ", ".join(keys[:-1]) + " or " + keys[-1]
    assert isinstance(checkpoint, dict) and set(keys) <= set(checkpoint), \
        f"{name} lacks {described}: save it with {hw}/main.py"
    return checkpoint


# --------------------------------------------------------------------------- results


def pytest_configure(config):
    config._kit_results = []


def pytest_runtest_setup(item):
    function = getattr(item, "function", None)
    if function is not None and "__score__" in vars(function):
        del function.__score__  # partial credit of an earlier run of this function


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    function = getattr(item, "function", None)
    if function is None or not (report.when == "call" or report.failed or report.skipped):
        return
    if report.when == "teardown" and report.passed:
        return
    weight = float(getattr(function, "__weight__", 0.0) or 0.0)
    passed = report.passed and report.when == "call"
    score = vars(function).get("__score__")
    score = float(score) if score is not None else (weight if passed else 0.0)
    doc = (function.__doc__ or "").strip().splitlines()
    name = doc[0] if doc else item.name
    if "[" in item.name:
        name += " " + item.name[item.name.index("["):]
    hidden_message = getattr(function, "__hide_errors__", None)
    output = _failure_text(call) if not passed else ""
    if output and hidden_message:
        output = hidden_message
    printed = report.capstdout.strip()
    if printed:
        output = (output + "\n" + printed).strip()
    results = item.config._kit_results
    results[:] = [r for r in results if r["nodeid"] != item.nodeid]  # a teardown error replaces the call's entry
    results.append({
        "nodeid": item.nodeid,
        "name": name,
        "number": getattr(function, "__number__", None),
        "weight": weight,
        "score": min(score, weight) if weight else 0.0,
        "passed": passed,
        "visibility": getattr(function, "__visibility__", "visible"),
        "output": output[:8000],
    })


def _failure_text(call) -> str:
    if call.excinfo is None:
        return "skipped" if call.when == "call" else "the test could not be set up"
    error = call.excinfo.value
    if isinstance(error, SubmissionError):
        return f"Your code failed: {error}"
    if isinstance(error, pytest.skip.Exception):
        return f"skipped: {error}"
    return call.excinfo.exconly().strip()


def pytest_sessionfinish(session):
    path = session.config.getoption("results_json")
    if path:
        Path(path).write_text(json.dumps(session.config._kit_results, indent=1))
