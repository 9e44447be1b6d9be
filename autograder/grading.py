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

import json
import os
import secrets
import signal
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder.isolation import IsolationError, choose_box
from autograder.kit import SHARED_PACKAGES, Kit, copy_files, is_generated
from autograder.parts import graded_parts
from autograder.results import failed_results, gradescope_results, is_extra_credit, part_of, summary, validate
from harness.sandbox import LEAN_MALLOC, Box, kill_uid, remove_shared_memory_files

MAX_CHECKPOINT_MB = 50
MAX_CODE_KB = 1024      # one submitted .py file
MAX_HELPERS = 10        # extra modules of the student's own in the homework's package
SEED_VARIABLE = "KIT_GRADER_SEED"  # the secret seed reaches pytest in its environment, never on a command line


def grading_budget_seconds() -> float:
    """All tests of one homework, leaving Gradescope's 10 minutes room to spare."""
    return float(os.environ.get("KIT_GRADING_BUDGET", 480))


def grading_memory_mb() -> int:
    """The memory one grading may use in all: Gradescope's default container has 768 MB, of which its
    own harness and shell take a little; the worker is killed (with a message) before the kernel would
    kill a process of its own choosing, perhaps the grader."""
    return int(os.environ.get("KIT_GRADING_MEMORY_MB", 740))


def printable(name: str) -> str:
    """A file name as text that JSON and terminals take: undecodable bytes and control characters become \ufffd."""
    text = name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return "".join(c if c.isprintable() else "\ufffd" for c in text)


# --------------------------------------------------------------------------- reading a submission


def read_regular_file(path: Path, max_bytes: int) -> bytes | str:
    """The bytes of ``path`` if it is a plain file of at most ``max_bytes``, else why not.

    Never follows a link (``O_NOFOLLOW`` on the file, and the caller walks folders without
    following links); refuses devices, pipes, sockets and files with more than one hard link."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as error:
        return "a link" if path.is_symlink() else f"unreadable ({error.strerror})"
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return "not a regular file"
        if info.st_nlink > 1:
            return "a hard link"
        if info.st_size > max_bytes:
            return f"over {max_bytes >> 20 or 1} MB" if max_bytes >= 1 << 20 else f"over {max_bytes >> 10} KB"
        with os.fdopen(fd, "rb", closefd=False) as handle:
            data = handle.read(max_bytes + 1)
        return data if len(data) <= max_bytes else "growing while read"
    finally:
        os.close(fd)


def walk_submission(submission: Path, max_entries: int = 10_000) -> list[tuple[Path, os.stat_result]]:
    """Every entry below ``submission`` with its lstat, links never followed, at most ``max_entries``."""
    found = []
    for folder, names, files in os.walk(submission, followlinks=False):
        names[:] = sorted(n for n in names if n not in ("__MACOSX", "__pycache__") and not n.startswith("."))
        for name in sorted(names + files):
            path = Path(folder) / name
            try:
                found.append((path, path.lstat()))
            except OSError:
                continue
            if len(found) >= max_entries:
                return found
    return found


def find_package(kit: Kit, hw: str, entries: list[tuple[Path, os.stat_result]], submission: Path) -> Path | None:
    """The folder of the submission that holds the homework's files (``hw1/``, flat, or one level down).
    Folders reached through links do not count."""
    graded = {p.name for p in kit.graded_files(hw)}
    holding = {path.parent for path, info in entries if path.name in graded and not stat.S_ISDIR(info.st_mode)}
    for folder in (submission / hw, submission):
        if folder in holding:
            return folder
    return min(holding, key=lambda folder: (len(folder.parts), str(folder))) if holding else None


def build_impl_tree(kit: Kit, hw: str, submission: Path, workdir: Path) -> tuple[Path, list[str]]:
    """Assemble ``workdir/impl/hwN``; return its root and notes for the student.

    Taken from the submission: the files with TODOs, the student's own helper modules in the same
    folder (names the kit does not use), and ``*.pt`` checkpoints. Only plain files are read: links,
    devices and hard links are refused with a note, so nothing outside the submission can be taken."""
    impl_root = workdir / "impl"
    package = impl_root / hw
    copy_files(kit.skeleton_dir(hw), package, kit.package_files(hw))
    notes = []
    entries = walk_submission(submission)
    found = find_package(kit, hw, entries, submission)
    refused = lambda path, why: notes.append(f"{printable(str(path.relative_to(submission)))} was not taken: it is {why}.")  # noqa: E731
    if found is None:
        notes.append(f"None of the files to edit ({', '.join(str(p) for p in kit.graded_files(hw))}) "
                     f"is in the submission: upload your {hw}/ files.")
    else:
        for relative in kit.graded_files(hw):
            source = found / relative
            if not os.path.lexists(source):
                notes.append(f"{hw}/{relative} is missing from the submission: the official skeleton is graded in its place.")
                continue
            content = read_regular_file(source, MAX_CODE_KB << 10)
            if isinstance(content, str):
                refused(source, content)
                notes.append(f"{hw}/{relative}: the official skeleton is graded in its place.")
            else:
                (package / relative).write_bytes(content)
        official = {p.name for p in kit.skeleton_dir(hw).iterdir()}
        helpers = [path for path, info in entries if path.parent == found and path.suffix == ".py"
                   and path.name not in official and path.name != "conftest.py" and not path.name.startswith("test_")]
        for path in helpers[:MAX_HELPERS]:
            content = read_regular_file(path, MAX_CODE_KB << 10)
            if isinstance(content, str):
                refused(path, content)
            elif path.stem.isidentifier():
                (package / path.name).write_bytes(content)
                notes.append(f"Your helper module {hw}/{printable(path.name)} was taken too.")
        if len(helpers) > MAX_HELPERS:
            notes.append(f"Only the first {MAX_HELPERS} helper modules were taken.")
    checkpoints = package / "checkpoints"
    checkpoints.mkdir()
    for path, info in entries:
        if path.suffix != ".pt":
            continue
        if (checkpoints / path.name).exists():
            notes.append(f"two checkpoints are named {printable(path.name)}; the first one found is graded.")
            continue
        content = read_regular_file(path, MAX_CHECKPOINT_MB << 20)
        if isinstance(content, str):
            refused(path, content)
        else:
            (checkpoints / path.name).write_bytes(content)
    return impl_root, notes


def support_tree(kit: Kit, workdir: Path) -> Path:
    """A readable copy of the shared packages' source (no dataset cache), for the worker."""
    support = workdir / "support"
    for package in SHARED_PACKAGES:
        copy_files(kit.root, support, [path.relative_to(kit.root) for path in sorted((kit.root / package).rglob("*"))
                                       if path.is_file() and not is_generated(path.relative_to(kit.root))])
    return support


def secret_paths(kit: Kit, workdir: Path) -> list[Path]:
    """What the worker must not be able to read: checked from inside its box before grading."""
    from data.omniglot import cache_dir  # noqa: PLC0415  (the grader's own process imports no torch)

    paths = [kit.solutions_root, kit.private_root / "hidden_tests", kit.root / "autograder" / "grading.py",
             cache_dir(), workdir / "private", Path.home() / ".ssh"]
    metadata = kit.root.parent / "submission_metadata.json"  # Gradescope's layout: /autograder/source
    return paths + ([metadata] if metadata.exists() else [])


# --------------------------------------------------------------------------- running the tests


def run_tests(kit: Kit, hw: str, impl_root: Path, workdir: Path, seed: int, support: Path | None = None,
              box: Box | None = None, budget: float | None = None,
              extra_pytest_args: list[str] = ()) -> tuple[list[dict] | None, str]:
    """Public and hidden tests of ``hw`` against ``impl_root``: (per-test records, pytest's output).

    The seed travels in pytest's environment. At the budget, pytest's whole process group and every
    worker go (the workers die with their launchers; a root grader also kills the workers' uid)."""
    private = workdir / "private"
    private.mkdir(mode=0o700, exist_ok=True)
    records_path = private / "records.json"
    paths = [str(p) for p in (kit.public_tests(hw), kit.hidden_tests(hw)) if p.is_dir()]
    command = [sys.executable, "-m", "pytest", *paths, "--impl", str(impl_root),
               "--results-json", str(records_path), "-q", "-rN", "--tb=short", "-p", "no:randomly",
               "--rootdir", str(kit.root), "-c", str(kit.root / "pytest.ini")]
    if support is not None:
        command += ["--support-root", str(support)]
    if box is not None:
        command += ["--box", box.to_json(), "--grading-memory-mb", str(grading_memory_mb()), "--grader-pid", str(os.getpid())]
    command += list(extra_pytest_args)
    log_path = private / "pytest.log"
    # One thread, as the worker has: a grading gets half a CPU on Gradescope, and a pool of threads sized to
    # the machine's cores stalls at every barrier when another process holds a core (hw2's grading went
    # from 2 to over 8 minutes beside one busy core).
    env = {**os.environ, **LEAN_MALLOC, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", SEED_VARIABLE: str(seed),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(kit.root), os.environ.get("PYTHONPATH")]))}
    limit = budget or grading_budget_seconds()
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=kit.root, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=env, start_new_session=True)
        try:
            process.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            return None, f"The tests did not finish within {limit:.0f} s in all."
        finally:
            end_processes(process, box)
    output = log_path.read_text(errors="replace")
    if not records_path.is_file():
        return None, output
    return json.loads(records_path.read_text()), output


def end_processes(process: subprocess.Popen, box: Box | None) -> None:
    """pytest's process group, then whatever of the worker's uid is left (launchers die with pytest)."""
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    process.wait()
    if box is not None and box.uid is not None:
        kill_uid(box.uid)
        remove_shared_memory_files(box.uid)


def grade(kit: Kit, hw: str, submission: Path, seed: int | None = None, budget: float | None = None,
          extra_pytest_args: list[str] = (), unsafe_no_isolation: bool = False) -> dict:
    """Grade one submission folder; always returns a valid results dict.

    ``seed`` None: a secret random seed of this grading. A box that cannot be put in place stops
    the grading (``IsolationError`` in the results' output, and on stderr for the staff)."""
    start = time.monotonic()
    seed = secrets.randbelow(2**31) if seed is None else seed
    try:
        with tempfile.TemporaryDirectory(prefix=f"grade-{hw}-") as workdir:
            workdir = Path(workdir)
            os.chmod(workdir, 0o711)  # the worker may pass through to impl/ and support/, never list
            impl_root, notes = build_impl_tree(kit, hw, submission, workdir)
            support = support_tree(kit, workdir)
            subprocess.run(["chmod", "-R", "a+rX", str(impl_root), str(support)], check=True)
            (workdir / "private").mkdir(mode=0o700)
            if unsafe_no_isolation:
                box = Box()
            else:
                box = choose_box(workdir, [impl_root, support], secret_paths(kit, workdir))
            print(f"isolation: {box.describe()}", file=sys.stderr, flush=True)
            records, output = run_tests(kit, hw, impl_root, workdir, seed, support, box, budget, extra_pytest_args)
        elapsed = time.monotonic() - start
        if records is None:
            tail = "\n".join(output.strip().splitlines()[-30:])
            return failed_results(f"The grader could not run the tests of {hw}.\n{tail}", elapsed)
        if not records:
            return failed_results(f"No test of {hw} ran; please tell the course staff.\n{output[-3000:]}", elapsed)
        return gradescope_results(records, "\n".join(notes), elapsed)
    except IsolationError as error:
        print(f"grade: STOPPED, {error}", file=sys.stderr, flush=True)
        return failed_results("The grader could not isolate your code on this machine, so it did not run it. "
                              "The course staff have the details; please tell them.", time.monotonic() - start)
    except Exception as error:  # the grader never crashes: it reports
        return failed_results(f"The grader failed ({type(error).__name__}: {error}); please tell the course staff.",
                              time.monotonic() - start)


def write_results(results: dict, out: Path) -> None:
    """Write results.json atomically: a new file beside it, then a rename (which replaces a link, never follows it)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(prefix=".results-", dir=out.parent)
    try:
        with os.fdopen(descriptor, "w") as handle:
            json.dump(results, handle, indent=2)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, out)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def check_isolation_main(args, kit: Kit | None = None) -> int:
    """Build a box as a grading would, check it from inside, and say what holds."""
    kit = kit or Kit()
    with tempfile.TemporaryDirectory(prefix="check-isolation-") as workdir:
        workdir = Path(workdir)
        os.chmod(workdir, 0o711)
        impl_root, support = workdir / "impl", support_tree(kit, workdir)
        impl_root.mkdir()
        subprocess.run(["chmod", "-R", "a+rX", str(impl_root), str(support)], check=True)
        try:
            box = choose_box(workdir, [impl_root, support], secret_paths(kit, workdir))
        except IsolationError as error:
            print(f"check-isolation: {error}", file=sys.stderr)
            return 1
    print(f"isolation: {box.describe()}")
    return 0


def grade_main(args, kit: Kit | None = None) -> int:
    kit = kit or Kit()
    hw = kit.check_homework(args.homework)
    submission = Path(args.submission)
    if not submission.is_dir():
        results = failed_results(f"The submission folder {submission} does not exist.")
    else:
        results = grade(kit, hw, submission, seed=args.seed, unsafe_no_isolation=args.unsafe_no_isolation)
    validate(results)
    if args.out:
        write_results(results, Path(args.out))
    print(summary(results))
    return 2 if results.get("output", "").startswith("The grader could not isolate") else 0


# --------------------------------------------------------------------------- selftest


# Modules that torch imports lazily and a grading would hold to its end, tens of MB each of its memory: sympy
# (torch.distributions.MultivariateNormal, through torch.broadcast_shapes) and torch._dynamo (torch.optim's
# first step). The reference's grading must load neither (docs/benchmarks/grading_hw3.md).
HEAVY_IMPORTS = ("sympy", "torch._dynamo")


def selftest(kit: Kit, hw: str, seeds: list[int]) -> list[str]:
    """Problems found: the reference must score full marks without loading ``HEAVY_IMPORTS``, the skeleton zero on
    every graded test, and each going-further part that the course grades its points (course.toml), no other part any."""
    problems = []
    for seed in seeds:
        results = grade(kit, hw, kit.solution_dir(hw), seed=seed, extra_pytest_args=["--forbid-imports", ",".join(HEAVY_IMPORTS)])
        total = sum(t["max_score"] for t in results["tests"])
        print(f"{hw} reference, seed {seed}: {results['score']:.1f} / {total:.1f}")
        if not results["tests"]:
            problems.append(f"{hw} reference, seed {seed}: no test ran ({results['output'][-500:]})")
        problems += [f"{hw} reference, seed {seed}: {problem}" for problem in part_problems(kit, hw, results)]
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


def part_problems(kit: Kit, hw: str, results: dict) -> list[str]:
    """How a grading's going-further parts differ from what course.toml says of them."""
    expected = {part.name: part for part in graded_parts(kit.root, hw)}
    scored = {}
    for test in results["tests"]:
        if part_of(test) is not None:
            scored.setdefault(part_of(test), []).append(test)
    problems = [f"part {name!r} is not graded by course.toml, yet {len(tests)} test(s) of it ran"
                for name, tests in scored.items() if name not in expected]
    for name, part in expected.items():
        tests = scored.get(name, [])
        points = sum(t["max_score"] for t in tests)
        if not tests or abs(points - part.points) > 1e-6:
            problems.append(f"part {name!r} is worth {part.points:g} points in course.toml, its tests {points:g} "
                            f"({len(tests)} test(s)); its test_points must be the sum of its tests' weights")
        if any(is_extra_credit(t) != part.extra_credit for t in tests):
            problems.append(f"part {name!r}: its tests' extra-credit tags differ from course.toml")
    return problems


def selftest_main(args, kit: Kit | None = None) -> int:
    kit = kit or Kit()
    homeworks = [kit.check_homework(hw) for hw in args.homeworks] or kit.homeworks()
    if not homeworks:
        print("selftest: no homework in autograder/private/solutions yet; nothing to check")
        return 0
    problems = [p for hw in homeworks for p in selftest(kit, hw, list(range(args.seeds)))]
    for problem in problems:
        print(f"PROBLEM {problem}")
    print("selftest " + ("failed" if problems else f"passed: {', '.join(homeworks)}"))
    return 1 if problems else 0
