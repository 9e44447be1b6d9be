"""The worker: limits, crashes and what crosses back, each with a message for the student."""
import importlib.util
import os
import textwrap

import pytest
import torch

from harness.sandbox import PORTABLE, Limits, SubmissionError, SubmissionTimeout, Worker

limits_apply = pytest.mark.skipif(PORTABLE, reason="the portable worker (no fork: Windows) has no resource limits")

PROBES = textwrap.dedent('''
    import os
    import torch

    def add(a, b):
        return a + b

    def spin():
        while True:
            pass

    def allocate(megabytes):
        return torch.ones(megabytes << 18).sum()

    def flood():
        while True:
            print("x" * 10000)

    def exit_hard():
        os._exit(3)

    def not_data():
        return object()

    def pid():
        return os.getpid()

    def load_colorsys():
        import colorsys
        return colorsys.rgb_to_hsv(1.0, 0.0, 0.0)[2]
''')


def probe_module(folder, name: str, source: str):
    """A module of probes written to ``folder`` and imported, so that its source can be sent to a worker."""
    path = folder / f"{name}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def probes(tmp_path):
    return probe_module(tmp_path, "sandbox_probes", PROBES)


@pytest.fixture
def worker(tmp_path):
    with Worker(tmp_path, tmp_path, Limits(call_seconds=3, memory_mb=700, output_mb=1)) as worker:
        yield worker


def test_tensors_cross_both_ways(worker, probes):
    assert torch.equal(worker.call(probes.add, torch.ones(3), b=torch.ones(3)), torch.full((3,), 2.0))


def test_a_hanging_call_times_out_and_the_next_call_gets_a_fresh_worker(worker, probes):
    first = worker.call(probes.pid)
    with pytest.raises(SubmissionTimeout, match="did not finish within 3 seconds"):
        worker.call(probes.spin)
    assert worker.call(probes.pid) != first
    assert worker.call(probes.add, 1, 2) == 3


@limits_apply
def test_memory_over_the_limit_is_an_error_naming_the_limit(worker, probes):
    assert worker.call(probes.allocate, 100) == (100 << 18)
    with pytest.raises(SubmissionError, match="memory limit is 700 MB"):
        worker.call(probes.allocate, 2000)


@limits_apply
def test_output_flood_stops_the_worker_with_a_message(worker, probes):
    with pytest.raises(SubmissionError, match="printed more than 1 MB"):
        worker.call(probes.flood)


def test_hard_exit_and_non_data_results_are_reported(worker, probes):
    with pytest.raises(SubmissionError, match="exited with status 3"):
        worker.call(probes.exit_hard)
    with pytest.raises(SubmissionError, match="not made of tensors and plain data"):
        worker.call(probes.not_data)


def test_a_call_that_loads_a_forbidden_module_fails_once(tmp_path, probes):
    """pytest's --forbid-imports (the selftest's check that the reference loads no heavy module) in the worker."""
    with Worker(tmp_path, tmp_path, Limits(call_seconds=30), env={"KIT_FORBIDDEN_IMPORTS": "wave,colorsys"}) as worker:
        assert worker.call(probes.add, 1, 2) == 3
        with pytest.raises(SubmissionError, match=r"this call loaded colorsys into the worker \(--forbid-imports\)"):
            worker.call(probes.load_colorsys)
        assert worker.call(probes.load_colorsys) == 1.0  # said once: the module stays loaded
    with Worker(tmp_path, tmp_path, Limits(call_seconds=30)) as worker:
        assert worker.call(probes.load_colorsys) == 1.0


TRUSTED_IMPORT = textwrap.dedent('''
    def test_loads_colorsys():
        import colorsys

    def test_after_it():
        import colorsys
''')


def test_a_test_that_loads_a_forbidden_module_into_the_trusted_process_fails_once(tmp_path):
    import json
    import subprocess
    import sys

    from harness import KIT_ROOT

    (tmp_path / "test_trusted_import.py").write_text(TRUSTED_IMPORT)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    records = tmp_path / "records.json"
    run = subprocess.run([sys.executable, "-m", "pytest", "-p", "harness.plugin", "--forbid-imports", "colorsys,wave",
                          "--results-json", str(records), "-q", "-p", "no:cacheprovider", "test_trusted_import.py"],
                         cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(KIT_ROOT)}, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 1, run.stdout[-3000:] + run.stderr[-2000:]
    by_name = {record["name"]: record for record in json.loads(records.read_text())}
    assert not by_name["test_loads_colorsys"]["passed"]
    assert "loaded colorsys into the grader's trusted process" in by_name["test_loads_colorsys"]["output"]
    assert by_name["test_after_it"]["passed"]


STOP_READING = textwrap.dedent('''
    import os
    import sys

    def stop_reading():
        """Keep the request pipe open but move it away, so that nobody reads what the grader writes."""
        fd = 0 if sys.argv[3] == "stdio" else int(sys.argv[3])  # the portable worker reads standard input
        silent_read, silent_write = os.pipe()  # a pipe nobody writes to: the worker waits on it for ever
        globals()["kept"] = (os.dup(fd), silent_write)
        os.dup2(silent_read, fd)
        return True

    def echo(value):
        return value
''')


def test_a_worker_that_stops_reading_cannot_block_the_grader(tmp_path):
    module = probe_module(tmp_path, "stop_probes", STOP_READING)
    with Worker(tmp_path, tmp_path, Limits(call_seconds=3)) as worker:
        assert worker.call(module.stop_reading)
        with pytest.raises(SubmissionTimeout, match="did not finish within 3 seconds"):
            worker.call(module.echo, torch.zeros(4 << 20))  # 16 MB: far more than a pipe holds


def watched_under_a_budget(code: str, worker_allowance_mb: int):
    """Run ``code`` in a process that a watchdog kills once it holds more than this test process leaves it of
    a grading budget (this process's memory plus ``worker_allowance_mb``); the watchdog, after the process ended."""
    import subprocess
    import sys

    from harness.sandbox import MemoryBudget, MemoryWatchdog

    trusted = MemoryBudget(0, (os.getpid(),)).trusted_bytes() >> 20
    process = subprocess.Popen([sys.executable, "-c", code])
    watchdog = MemoryWatchdog(process.pid, None, 1536, process.kill,
                              MemoryBudget(trusted + worker_allowance_mb, (os.getpid(),)), interval=0.05)
    watchdog.start()
    try:
        assert process.wait(timeout=30) != 0, "the watchdog did not stop the process"
    finally:
        process.kill()
        watchdog.stop()
    return watchdog


def test_the_worker_gets_only_what_the_grader_leaves_of_the_grading_budget():
    """Under its own limit but over the grading's memory once the grader's own memory counts: killed, with why."""
    watchdog = watched_under_a_budget("import time; block = bytearray(500 << 20); time.sleep(60)", 300)
    assert 300 < watchdog.exceeded_mb < 1536 and watchdog.trusted_mb > 0 and not watchdog.grader_starved_it()
    assert "over the" in watchdog.verdict() and "memory limit of a whole grading" in watchdog.verdict()


def test_a_worker_starved_by_the_grader_itself_is_the_staffs_problem_not_the_students():
    """The trusted processes alone over the grading's memory: the worker is stopped, and the verdict says whose fault."""
    watchdog = watched_under_a_budget("import time; time.sleep(60)", -20)
    assert watchdog.grader_starved_it()
    assert "not of your code: please tell the course staff" in watchdog.verdict()


def test_without_a_budget_the_worker_limit_alone_counts():
    import subprocess
    import sys

    from harness.sandbox import MemoryWatchdog

    hog = subprocess.Popen([sys.executable, "-c", "import time; block = bytearray(300 << 20); time.sleep(3)"])
    watchdog = MemoryWatchdog(hog.pid, None, 1536, hog.kill, interval=0.05)
    watchdog.start()
    try:
        assert hog.wait(timeout=30) == 0
    finally:
        watchdog.stop()
    assert watchdog.exceeded_mb == 0


WINDOWS_LIKE = """
import select, subprocess, sys
sys.modules["resource"] = None  # as on Windows: importing it fails
def no_select(*args):
    raise OSError("select() cannot wait on pipes here")
select.select = no_select
class PopenWithoutPosixOptions(subprocess.Popen):
    def __init__(self, *args, **kwargs):
        for name in ("pass_fds", "preexec_fn", "start_new_session"):
            if kwargs.get(name):
                raise ValueError(name + " is not supported on this platform")
        super().__init__(*args, **kwargs)
subprocess.Popen = PopenWithoutPosixOptions
import pytest
sys.exit(pytest.main(sys.argv[1:]))
"""


def test_public_tests_run_without_posix_only_features(tmp_path):
    """As on native Windows: no resource module, no POSIX-only Popen options, no select() on pipes."""
    import subprocess
    import sys
    from pathlib import Path

    kit_root = Path(__file__).resolve().parents[3]
    env = {**os.environ, "KIT_PORTABLE_WORKER": "1"}
    run = subprocess.run([sys.executable, "-c", WINDOWS_LIKE, "hw1/tests/test_hw1_episodes.py", "autograder/tests/grader/test_sandbox.py",
                          "--impl", "solution", "-q", "-p", "no:cacheprovider", "-k", "not posix_only"],
                         cwd=kit_root, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "2 skipped" in run.stdout, run.stdout[-2000:]
