"""Grading a submission, and the selftest that proves the tests test something.

    python -m autograder grade hw1 --submission DIR [--out results.json] [--seed N]
    python -m autograder selftest [hw1 ...] [--seeds N]

Grading builds an implementation tree in a temporary folder: the official
``hwN`` package with the student's versions of the files they edit (those with
TODOs) and their checkpoints (every ``*.pt`` found, into ``hwN/checkpoints/``).
It then runs the public and hidden tests in a pytest child process against
that tree; the tests run the student's code in a further, confined child (see
``sandbox.py``). Whatever happens, a results.json is written.
"""
from __future__ import annotations

import functools
import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder.kit import Kit
from autograder.sandbox import LEAN_MALLOC, Identity
from autograder.results import failed_results, gradescope_results, summary, validate

MAX_CHECKPOINT_MB = 50
PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # where the autograder and data packages live
SANDBOX_USER = "kit-sandbox"  # created when missing; its group is the workers' group


def grading_budget_seconds() -> float:
    """All tests of one homework, leaving Gradescope's 10 minutes room to spare."""
    return float(os.environ.get("KIT_GRADING_BUDGET", 480))


# --------------------------------------------------------------------------- the implementation tree


def find_package(kit: Kit, hw: str, submission: Path) -> Path | None:
    """The folder of the submission that holds the homework's files (``hw1/`` or flat)."""
    graded = [p.name for p in kit.graded_files(hw)]
    candidates = [submission / hw, submission] + sorted(submission.glob(f"*/{hw}")) + sorted(submission.glob("*"))
    for folder in candidates:
        if folder.is_dir() and any((folder / name).is_file() for name in graded):
            return folder
    return None


def build_impl_tree(kit: Kit, hw: str, submission: Path, workdir: Path) -> tuple[Path, list[str]]:
    """Assemble ``workdir/impl/hwN``; return its root and notes for the student."""
    impl_root = workdir / "impl"
    package = impl_root / hw
    shutil.copytree(kit.skeleton_dir(hw), package, ignore=shutil.ignore_patterns("tests", "checkpoints", "runs", "__pycache__"))
    notes = []
    found = find_package(kit, hw, submission)
    if found is None:
        notes.append(f"None of the files to edit ({', '.join(str(p) for p in kit.graded_files(hw))}) "
                     f"is in the submission: upload your {hw}/ files.")
    else:
        for relative in kit.graded_files(hw):
            source = found / relative
            if source.is_file():
                shutil.copyfile(source, package / relative)
            else:
                notes.append(f"{hw}/{relative} is missing from the submission: the official skeleton is graded in its place.")
    checkpoints = package / "checkpoints"
    checkpoints.mkdir()
    for path in sorted(submission.rglob("*.pt")):
        if path.is_symlink() or not path.is_file():
            continue
        if path.stat().st_size > MAX_CHECKPOINT_MB << 20:
            notes.append(f"{path.name} is over {MAX_CHECKPOINT_MB} MB and was ignored.")
        elif (checkpoints / path.name).exists():
            notes.append(f"two checkpoints are named {path.name}; the first one found is graded.")
        else:
            shutil.copyfile(path, checkpoints / path.name)
    return impl_root, notes


# The kit's code that homework modules import, which the worker must be able to read.
SHARED_PACKAGES = ("data", "common")


def support_tree(kit: Kit, workdir: Path) -> Path:
    """A readable copy of the shared ``data`` and ``common`` code, for a worker that cannot read the kit."""
    support = workdir / "support"
    for package in SHARED_PACKAGES:
        shutil.copytree(PACKAGE_ROOT / package, support / package, ignore=shutil.ignore_patterns("cache", "__pycache__"))
    return support


# Workers run as uid RUN_UID_BASE + the grader's pid: unique among the gradings running at once,
# and far above the uids of real users and of the usual subordinate-uid ranges.
RUN_UID_BASE = 3_000_000_000


@functools.lru_cache(maxsize=1)
def sandbox_identity() -> tuple[str | None, str]:
    """``(uid:gid, note)``: the unprivileged identity the worker runs as, when the grader runs as root.

    The group is the grader's own user's; the uid is this grading run's alone (see
    ``RUN_UID_BASE``), because the sandbox kills every process of the worker's uid when
    it closes, and two gradings on one machine (a selftest beside a benchmark, say) must
    not kill each other's workers. The identity must be able to run this Python with
    torch; where it cannot (an interpreter under /root, say), grading goes on without
    the privilege drop and the note says so. Gradescope's setup.sh installs a Python it can run.
    """
    if os.geteuid() != 0:
        return None, ""
    _, gid = sandbox_user()
    uid = RUN_UID_BASE + os.getpid()
    try:
        check = subprocess.run([sys.executable, "-I", "-c", "import torch"], preexec_fn=Identity(uid, gid).become,
                               capture_output=True, cwd="/", timeout=120)
        usable = check.returncode == 0
    except (OSError, subprocess.SubprocessError):
        usable = False
    if not usable:
        return None, (f"Note: the submission ran as root, not as an unprivileged user (uid {uid}, group of {SANDBOX_USER!r}), "
                      f"who cannot run {sys.executable}.")
    return f"{uid}:{gid}", ""


def sandbox_user() -> tuple[int, int]:
    """uid and gid of the grader's own unprivileged user: created if missing, else ``nobody``."""
    for attempt in range(2):
        try:
            user = pwd.getpwnam(SANDBOX_USER)
            return user.pw_uid, user.pw_gid
        except KeyError:
            if attempt == 0:
                subprocess.run(["useradd", "--system", "--no-create-home", "--user-group", "--shell",
                                "/usr/sbin/nologin", SANDBOX_USER], capture_output=True)
    user = pwd.getpwnam("nobody")
    return user.pw_uid, user.pw_gid


# --------------------------------------------------------------------------- running the tests


def run_tests(kit: Kit, hw: str, impl_root: Path, workdir: Path, seed: int, support: Path | None = None,
              identity: str | None = None, budget: float | None = None,
              extra_pytest_args: list[str] = ()) -> tuple[list[dict] | None, str]:
    """Public and hidden tests of ``hw`` against ``impl_root``: (per-test records, pytest's output)."""
    records_path = workdir / "records.json"
    paths = [str(p) for p in (kit.public_tests(hw), kit.hidden_tests(hw)) if p.is_dir()]
    command = [sys.executable, "-m", "pytest", *paths, "--impl", str(impl_root), "--grader-seed", str(seed),
               "--results-json", str(records_path), "-q", "-rN", "--tb=short", "-p", "no:randomly",
               "--rootdir", str(kit.root), "-c", str(kit.root / "pytest.ini")]
    if support is not None:
        command += ["--support-root", str(support)]
    if identity is not None:
        command += ["--sandbox-user", identity]
    command += list(extra_pytest_args)
    log_path = workdir / "pytest.log"
    env = {**os.environ, **LEAN_MALLOC, "PYTHONPATH": os.pathsep.join(filter(None, [str(PACKAGE_ROOT), os.environ.get("PYTHONPATH")]))}
    with open(log_path, "wb") as log:
        try:
            subprocess.run(command, cwd=kit.root, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                           env=env, timeout=budget or grading_budget_seconds(), start_new_session=True)
        except subprocess.TimeoutExpired:
            return None, f"The tests did not finish within {budget or grading_budget_seconds():.0f} s in all."
    output = log_path.read_text(errors="replace")
    if not records_path.is_file():
        return None, output
    return json.loads(records_path.read_text()), output


def grade(kit: Kit, hw: str, submission: Path, seed: int = 0, budget: float | None = None,
          extra_pytest_args: list[str] = ()) -> dict:
    """Grade one submission folder; always returns a valid results dict."""
    start = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix=f"grade-{hw}-") as workdir:
            workdir = Path(workdir)
            impl_root, notes = build_impl_tree(kit, hw, submission, workdir)
            identity, isolation_note = sandbox_identity()
            if isolation_note:
                notes.append(isolation_note)
            support = None
            if identity is not None:
                support = support_tree(kit, workdir)
                os.chmod(workdir, 0o755)
                subprocess.run(["chmod", "-R", "a+rX", str(impl_root), str(support)], check=True)
            records, output = run_tests(kit, hw, impl_root, workdir, seed, support, identity, budget, extra_pytest_args)
        elapsed = time.monotonic() - start
        if records is None:
            tail = "\n".join(output.strip().splitlines()[-30:])
            return failed_results(f"The grader could not run the tests of {hw}.\n{tail}", elapsed)
        if not records:
            return failed_results(f"No test of {hw} ran; please tell the course staff.\n{output[-3000:]}", elapsed)
        return gradescope_results(records, "\n".join(notes), elapsed)
    except Exception as error:  # the grader never crashes: it reports
        return failed_results(f"The grader failed ({type(error).__name__}: {error}); please tell the course staff.",
                              time.monotonic() - start)


def grade_main(args, kit: Kit | None = None) -> int:
    kit = kit or Kit()
    hw = kit.check_homework(args.homework)
    submission = Path(args.submission)
    if not submission.is_dir():
        results = failed_results(f"The submission folder {submission} does not exist.")
    else:
        results = grade(kit, hw, submission, seed=args.seed)
    validate(results)
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=2))
    print(summary(results))
    return 0


# --------------------------------------------------------------------------- selftest


def selftest(kit: Kit, hw: str, seeds: list[int]) -> list[str]:
    """Problems found: the reference must score full marks, the skeleton zero on every graded test."""
    problems = []
    for seed in seeds:
        results = grade(kit, hw, kit.solution_dir(hw), seed=seed)
        total = sum(t["max_score"] for t in results["tests"])
        print(f"{hw} reference, seed {seed}: {results['score']:.1f} / {total:.1f}")
        if not results["tests"]:
            problems.append(f"{hw} reference, seed {seed}: no test ran ({results['output'][-500:]})")
        for test in results["tests"]:
            if test["status"] != "passed" or test["score"] < test["max_score"]:
                problems.append(f"{hw} reference, seed {seed}: {test['name']} scored {test['score']}/{test['max_score']}"
                                f"\n      {test.get('output', '')[:600]}")
    results = grade(kit, hw, kit.skeleton_dir(hw), seed=seeds[0])
    print(f"{hw} skeleton: {results['score']:.1f} / {sum(t['max_score'] for t in results['tests']):.1f}")
    graded = [t for t in results["tests"] if t["max_score"] > 0]
    if not graded:
        problems.append(f"{hw} skeleton: no graded test ran ({results['output'][-500:]})")
    for test in graded:
        if test["score"] > 0:
            problems.append(f"{hw} skeleton: {test['name']} scored {test['score']}/{test['max_score']} "
                            f"(a graded test that passes without an implementation tests nothing)")
    return problems


def selftest_main(args, kit: Kit | None = None) -> int:
    kit = kit or Kit()
    homeworks = [kit.check_homework(hw) for hw in args.homeworks] or kit.homeworks()
    if not homeworks:
        print("selftest: no homework in autograder/solutions yet; nothing to check")
        return 0
    problems = [p for hw in homeworks for p in selftest(kit, hw, list(range(args.seeds)))]
    for problem in problems:
        print(f"PROBLEM {problem}")
    print("selftest " + ("failed" if problems else f"passed: {', '.join(homeworks)}"))
    return 1 if problems else 0
