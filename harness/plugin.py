"""pytest plugin of the kit: which implementation the tests probe, and what they scored.

Fixtures for tests:
    impl         a ``sandbox.Worker`` running the implementation under test
    impl_root    the folder in which ``import hwN`` resolves for ``impl``
    reference    runs probes on the reference solution (staff and grader only)
    evaluator    runs probes whose answers decide a verdict: the reference, in this process, wherever
                 the kit has it (always on the grader); the implementation's worker on a student's machine
    grader_seed  seeds the tasks that accuracy tests sample (the grader's is secret: ``$KIT_GRADER_SEED``)

For tests that judge what a submission sends back (a checkpoint, a reply): ``load_submitted_checkpoint``
reads a checkpoint here after inspecting its zip members; ``checked_config`` bounds the numbers of its
config; ``received`` checks a returned tensor's type, shape and values before any arithmetic on it.

Options:
    --impl student|solution|DIR   student: this tree's hwN/ (default); solution: the reference (staff only,
                                  see autograder/reference.py); DIR: a folder holding hwN/ (what the
                                  grader builds from a submission)
    --results-json FILE           write each test's score, weight, number, visibility and output
    --worker-coverage RCFILE      staff: coverage.py in the (unboxed) worker only (python -m autograder coverage)
    --forbid-imports MODULES      staff (the selftest): a test fails once when one of these modules (comma-separated)
                                  appears in this process or in the worker
"""
from __future__ import annotations

import json
import os
import re
import sys
import zipfile
from pathlib import Path

import pytest
import torch

from harness import KIT_ROOT
from harness.sandbox import FORBIDDEN_IMPORTS, Box, Limits, MemoryBudget, SubmissionError, Worker, trim_heap
from harness.submit import MANIFEST

# torch.testing.assert_close imports torch.distributed.tensor, and with it sympy (40 MB in this process,
# which shares the grading's memory with the worker), only to unwrap DTensors: replies never hold one.
if hasattr(torch.testing, "_comparison") and hasattr(torch.testing._comparison, "_HAS_DTENSOR"):
    torch.testing._comparison._HAS_DTENSOR = False


def pytest_addoption(parser):
    group = parser.getgroup("kit", "meta-learning course kit")
    group.addoption("--impl", default="student", help="student (default), solution, or a folder holding hwN/")
    group.addoption("--worker-coverage", default=None, metavar="RCFILE",
                    help="staff: measure coverage.py's line and branch coverage of the code the worker runs")
    group.addoption("--grader-seed", type=int, default=int(os.environ.get("KIT_GRADER_SEED", 0)),
                    help="seed of the tasks that accuracy tests sample (default: $KIT_GRADER_SEED or 0)")
    group.addoption("--results-json", default=None, help="write per-test scores to this JSON file")
    group.addoption("--support-root", default=str(KIT_ROOT), help="folder where the worker imports data/ from")
    group.addoption("--box", default=None, help="how the worker is confined, as the grader chose it (JSON of sandbox.Box)")
    group.addoption("--call-timeout", type=float, default=float(os.environ.get("KIT_CALL_TIMEOUT", Limits.call_seconds)),
                    help="seconds per probe call (default: $KIT_CALL_TIMEOUT or 120)")
    group.addoption("--memory-mb", type=int, default=Limits.memory_mb, help="memory limit of the worker")
    group.addoption("--grading-memory-mb", type=int, default=None,
                    help="memory of the whole grading (grader, pytest and worker); the worker gets what the grader leaves")
    group.addoption("--grader-pid", type=int, default=None, help="the grading process, whose memory counts in the budget")
    group.addoption("--forbid-imports", default="", metavar="MODULES",
                    help="staff: fail the test that loads one of these comma-separated modules, here or in the worker")


# Set by the course staff's plugin (``autograder.reference``), in the kit and on the grader only:
# the folder holding the complete reference packages, and a runner of probes on them in this process.
REFERENCE_ROOT = pytest.StashKey[Path]()
REFERENCE_RUNNER = pytest.StashKey[object]()
REPORTED_IMPORTS = pytest.StashKey[set]()   # the forbidden modules a test has already failed for


def resolve_impl_root(config) -> Path:
    choice = config.getoption("impl")
    if choice == "student":
        return Path(config.rootpath)
    if choice == "solution":
        if REFERENCE_ROOT not in config.stash:
            raise pytest.UsageError("--impl solution: the reference solutions are only in the course staff's kit")
        return config.stash[REFERENCE_ROOT]
    root = Path(choice).resolve()
    if not root.is_dir():
        raise pytest.UsageError(f"--impl {choice}: no such folder")
    return root


@pytest.fixture(scope="session")
def impl_root(pytestconfig) -> Path:
    return resolve_impl_root(pytestconfig)


@pytest.fixture(scope="session")
def impl(pytestconfig, impl_root):
    box = Box.from_json(pytestconfig.getoption("box")) if pytestconfig.getoption("box") else Box()
    limits = Limits(call_seconds=pytestconfig.getoption("call_timeout"), memory_mb=pytestconfig.getoption("memory_mb"))
    coverage_config = pytestconfig.getoption("worker_coverage")
    if coverage_config and box.kind != "none":
        raise pytest.UsageError("--worker-coverage measures an unboxed worker (a staff run), not a graded one")
    env = {"COVERAGE_PROCESS_START": str(Path(coverage_config).resolve())} if coverage_config else {}
    if pytestconfig.getoption("forbid_imports"):
        env[FORBIDDEN_IMPORTS] = pytestconfig.getoption("forbid_imports")
    budget = None
    if pytestconfig.getoption("grading_memory_mb"):
        trusted = (os.getpid(),) + ((pytestconfig.getoption("grader_pid"),) if pytestconfig.getoption("grader_pid") else ())
        budget = MemoryBudget(pytestconfig.getoption("grading_memory_mb"), trusted)
    with Worker(impl_root, pytestconfig.getoption("support_root"), limits, box, env,
                exit_grace_seconds=60.0 if coverage_config else 0.0, budget=budget) as worker:
        yield worker


@pytest.fixture(scope="session")
def reference(pytestconfig):
    if REFERENCE_RUNNER not in pytestconfig.stash:
        pytest.fail("this test compares with the reference solution, which only the course staff have")
    return pytestconfig.stash[REFERENCE_RUNNER]


@pytest.fixture(scope="session")
def evaluator(pytestconfig, request):
    """Where verdict-deciding probes run: never in the submission's worker when the reference exists."""
    return request.getfixturevalue("reference" if REFERENCE_RUNNER in pytestconfig.stash else "impl")


@pytest.fixture(scope="session")
def grader_seed(pytestconfig) -> int:
    return pytestconfig.getoption("grader_seed")


MAX_CHECKPOINT_MEMBERS = 2000
MAX_CHECKPOINT_UNPACKED_MB = 64


def load_submitted_checkpoint(impl_root: Path, hw: str, name: str, keys: list[str]) -> dict:
    """``<impl_root>/<hw>/checkpoints/<name>``, loaded here on the trusted side (weights only, no code).

    Before loading, its zip members are counted and their unpacked sizes summed, so that a small
    file cannot inflate in this process. Fails the calling test with a message that says what to do
    when the file is missing, is not a checkpoint, is too large, or lacks one of ``keys``."""
    __tracebackhide__ = True
    path = impl_root / hw / "checkpoints" / name
    assert path.is_file(), f"{hw}/checkpoints/{name} is missing: train it (see the handout) and submit it"
    hint = f"save it with {hw}/main.py"
    assert zipfile.is_zipfile(path), f"{name} is not a checkpoint written by torch.save: {hint}"
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()
        unpacked = sum(member.file_size for member in members)
    assert len(members) <= MAX_CHECKPOINT_MEMBERS, f"{name} has {len(members)} parts, more than a checkpoint needs: {hint}"
    assert unpacked <= MAX_CHECKPOINT_UNPACKED_MB << 20, \
        f"{name} unpacks to {unpacked >> 20} MB, over the {MAX_CHECKPOINT_UNPACKED_MB} MB allowed: {hint}"
    try:
        checkpoint = torch.load(path, weights_only=True, map_location="cpu")
    except Exception as error:
        raise AssertionError(f"{name} is not a checkpoint written by {hw}/main.py ({str(error)[:500]})") from None
    described = ", ".join(keys[:-1]) + " or " + keys[-1]
    assert isinstance(checkpoint, dict) and set(keys) <= set(checkpoint), f"{name} lacks {described}: {hint}"
    return checkpoint


def checked_config(config, allowed: dict, name: str) -> dict:
    """``config`` if it has exactly the keys of ``allowed`` and each value is allowed.

    ``allowed`` maps a key to a set of values, or to ``(type, low, high)`` for a bounded number, so
    that no submitted number can size a model beyond what the homework builds."""
    __tracebackhide__ = True
    assert isinstance(config, dict), f"{name}: its config is not a dict"
    assert set(config) == set(allowed), f"{name}: config keys {sorted(map(str, config))}, expected {sorted(allowed)}"
    for key, rule in allowed.items():
        value = config[key]
        if isinstance(rule, tuple):
            kind, low, high = rule
            ok = type(value) is kind or (kind is float and type(value) is int)
            assert ok and low <= value <= high, f"{name}: config {key}={value!r} is outside [{low}, {high}]"
        else:
            assert type(value) in (bool, int, float, str) and value in rule, \
                f"{name}: config {key}={value!r} is not one of {sorted(rule, key=str)}"
    return config


def received(value, shape: tuple | None = None, dtype: torch.dtype | None = None, bound: float = 1e6,
             name: str = "the result") -> torch.Tensor:
    """A tensor from the worker, checked before any arithmetic: type, shape, dtype, finite and bounded.
    Returned as float64 for floating types, so that metrics computed from it cannot overflow."""
    __tracebackhide__ = True
    assert type(value) is torch.Tensor, f"{name}: expected a tensor, got {type(value).__name__}"
    if shape is not None:
        assert tuple(value.shape) == tuple(shape), f"{name}: expected shape {tuple(shape)}, got {tuple(value.shape)}"
    if dtype is not None:
        assert value.dtype == dtype, f"{name}: expected dtype {dtype}, got {value.dtype}"
    if value.is_floating_point():
        value = value.double()
        assert torch.isfinite(value).all(), f"{name} has non-finite values"
        assert value.abs().max().item() <= bound if value.numel() else True, f"{name} has values beyond ±{bound:g}"
    return value


# --------------------------------------------------------------------------- results


PART_HELP = ("part(name): a test of a going-further part of the homework. hwN/submission.json says which parts "
             "the course grades, for how many points and whether as extra credit; the tests of the other parts "
             "are deselected. A part not attempted (a TODO left, its checkpoint not trained) is skipped, not "
             "failed, when it is extra credit")
NOT_ATTEMPTED = ('NotImplementedError: TODO', 'NotImplementedError("TODO', "is missing: train it")
HOMEWORK_FOLDER = re.compile(r"^hw\d+$")
PART = pytest.StashKey[dict]()  # a part test's entry in its homework's submission.json


def pytest_configure(config):
    config._kit_results = []
    config.addinivalue_line("markers", PART_HELP)


def graded_parts(root: Path, hw: str) -> dict[str, dict]:
    """The parts of ``hw`` that the course grades, from the kit's ``hwN/submission.json`` (never a submission's)."""
    path = root / hw / MANIFEST
    return json.loads(path.read_text()).get("parts", {}) if path.is_file() else {}


def pytest_collection_modifyitems(config, items):
    """Deselect the tests of the parts that the course does not grade; note the graded ones' entries."""
    kept, dropped, manifests = [], [], {}
    for item in items:
        marker = item.get_closest_marker("part")
        if marker is None:
            kept.append(item)
            continue
        hw = next((folder for folder in reversed(item.path.parts) if HOMEWORK_FOLDER.match(folder)), None)
        if hw not in manifests:
            manifests[hw] = graded_parts(Path(config.rootpath), hw) if hw else {}
        entry = manifests[hw].get(marker.args[0])
        if entry is None:
            dropped.append(item)
        else:
            item.stash[PART] = entry
            kept.append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


def pytest_runtest_setup(item):
    function = getattr(item, "function", None)
    if function is not None and "__score__" in vars(function):
        del function.__score__  # partial credit of an earlier run of this function


@pytest.hookimpl(trylast=True)  # after the test's own teardown: what it freed is freed, and a failure here breaks nothing
def pytest_runtest_teardown(item):
    trim_heap()  # what a test freed no longer counts against the grading's memory
    forbidden = [name for name in item.config.getoption("forbid_imports").split(",") if name]
    reported = item.config.stash.setdefault(REPORTED_IMPORTS, set())
    loaded = [name for name in forbidden if name in sys.modules and name not in reported]
    reported.update(loaded)
    assert not loaded, (f"this test loaded {', '.join(loaded)} into the grader's trusted process (--forbid-imports): "
                        f"tens of MB that the grading would hold to its end")


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
    part = item.stash.get(PART, {})
    scale, extra_credit = _bounded(part.get("weight_scale", 1.0)), part.get("extra_credit") is True
    if extra_credit and report.failed and report.when == "call" and any(m in _failure_text(call) for m in NOT_ATTEMPTED):
        # `pytest hwN` stays green on a complete required part; the grader still scores it zero.
        report.outcome = "skipped"
        report.longrepr = (str(item.path), item.location[1], "Skipped: extra credit, not attempted")
    passed = report.passed and report.when == "call"
    score = vars(function).get("__score__")
    score = float(score) if score is not None else (weight if passed else 0.0)
    weight, score = weight * scale, score * scale
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
        "extra_credit": extra_credit,
        "part": item.get_closest_marker("part").args[0] if part else None,
        "visibility": getattr(function, "__visibility__", "visible"),
        "output": output[:8000],
    })


def _bounded(scale) -> float:
    """A part's weight scale as the release wrote it (the course's points over its tests' points)."""
    return float(scale) if isinstance(scale, (int, float)) and 0 < scale <= 1000 else 1.0


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
