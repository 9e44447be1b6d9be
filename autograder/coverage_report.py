"""Which lines and branches of the code students write do the tests run?

    python -m autograder coverage [hw1 hw2 hw3] [--out docs/benchmarks]

Runs every public and hidden test of a homework against the reference, with
coverage.py (branch coverage) measuring the worker only: the process that runs the
implementation under test. The reference that the trusted side runs to judge
answers is not measured, so a line counts as covered only when a test made the
implementation under test execute it. Reports, for the fenced regions of each graded
file, the share of lines and branches run, and every line or branch that was not.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from autograder.kit import Kit
from autograder.fences import fenced_lines


def measure(kit: Kit, hw: str, workdir: Path) -> dict:
    """Line and branch coverage of the fenced code of one homework by all its tests."""
    import coverage

    workdir = workdir.resolve()  # the worker runs elsewhere
    workdir.mkdir(parents=True, exist_ok=True)
    for old in workdir.glob(".coverage*"):
        old.unlink()
    shutil.rmtree(workdir / "impl", ignore_errors=True)
    impl = kit.assemble_reference(workdir / "impl", [hw])  # the reference, where the worker imports it
    package = impl / hw
    rcfile = workdir / "coveragerc"
    rcfile.write_text(f"[run]\nbranch = True\nparallel = True\ndata_file = {workdir / '.coverage'}\n"
                      f"source = {package}\n")
    tests = [str(kit.public_tests(hw)), str(kit.hidden_tests(hw))]
    status = subprocess.call([sys.executable, "-m", "pytest", "--impl", str(impl), "--worker-coverage", str(rcfile),
                              "-q", "-p", "no:randomly", *tests], cwd=kit.root)
    if not list(workdir.glob(".coverage.*")):
        raise SystemExit("coverage.py recorded nothing in the worker: it needs coverage>=7.10, which starts in "
                         "subprocesses from COVERAGE_PROCESS_START (pip install -r requirements-staff.txt)")
    data = coverage.Coverage(config_file=str(rcfile), data_file=str(workdir / ".coverage"))
    data.combine(data_paths=[str(workdir)])
    data.save()
    json_file = workdir / "coverage.json"
    data.json_report(outfile=str(json_file))  # coverage.py's documented per-file lines and branches
    measured = {str(Path(name).resolve()): entry for name, entry in json.loads(json_file.read_text())["files"].items()}
    files = []
    for relative in kit.graded_files(hw):
        path = package / relative
        fenced = fenced_lines(path.read_text())
        entry = measured.get(str(path.resolve()), {})
        executed = set(entry.get("executed_lines", []))
        missing = set(entry.get("missing_lines", [])) | ((fenced - executed) if not entry else set())
        branches = [tuple(arc) for arc in entry.get("executed_branches", []) + entry.get("missing_branches", [])]
        files.append({"file": str(relative),
                      "lines": len(fenced & (executed | missing)),
                      "missing_lines": sorted(fenced & missing),
                      "branches": sum(1 for line, _ in branches if line in fenced),
                      "missing_branches": sorted(tuple(arc) for arc in entry.get("missing_branches", []) if arc[0] in fenced)})
    return {"homework": hw, "tests_passed": status == 0, "files": files}


def report(results: list[dict], command: str) -> str:
    lines = ["# Coverage of the fenced code by the tests", "",
             f"Command: `{command}`", "",
             "coverage.py measured the worker, the process that runs the implementation under test, while every",
             "public and hidden test ran against the reference; the trusted side's own runs of the reference",
             "(judging answers) are not counted. Only the lines inside the fences count, hints excluded.", "",
             "| homework | file | fenced lines run | fenced branches taken |", "| --- | --- | ---: | ---: |"]
    uncovered = []
    for result in results:
        for entry in result["files"]:
            run = entry["lines"] - len(entry["missing_lines"])
            taken = entry["branches"] - len(entry["missing_branches"])
            lines.append(f"| {result['homework']} | {entry['file']} | {run} / {entry['lines']} | {taken} / {entry['branches']} |")
            where = f"{result['homework']}/{entry['file']}"
            uncovered += [f"- `{where}:{line}`: never run" for line in entry["missing_lines"]]
            uncovered += [f"- `{where}:{line}`: the branch to {'the exit' if target < 0 else f'line {target}'} is never taken"
                          for line, target in entry["missing_branches"]]
    lines += ["", "## Not covered", ""] + (uncovered or ["Nothing: every fenced line and branch runs under the tests."])
    if not all(result["tests_passed"] for result in results):
        lines += ["", "Some tests failed during this run: the figures above are not the reference's."]
    return "\n".join(lines) + "\n"


def main(args) -> int:
    kit = Kit()
    homeworks = [kit.check_homework(hw) for hw in args.homeworks] or kit.homeworks()
    results = [measure(kit, hw, Path(args.workdir) / hw) for hw in homeworks]
    text = report(results, " ".join(["python -m autograder coverage", *args.homeworks]))
    print(text)
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "coverage.md").write_text(text)
    incomplete = any(entry["missing_lines"] or entry["missing_branches"] for result in results for entry in result["files"])
    return int(incomplete or not all(result["tests_passed"] for result in results))
