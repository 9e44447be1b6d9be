"""Check a homework and pack what the grader takes into ``hwN_submission.zip``, for Gradescope.

    python -m harness submit hw1               # public tests, checks, then the zip
    python -m harness submit hw1 --skip-tests  # checks and the zip only

What to pack is ``hwN/submission.json``, which the release writes from the reference: the files
you edit, the checkpoints the tests grade, and the limits the grader applies. Your own helper
modules in ``hwN/`` are packed too (the grader takes up to ``max_helpers``). Nothing is uploaded:
upload the zip to the homework's assignment on Gradescope yourself.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import zipfile
from pathlib import Path

from harness import KIT_ROOT

MANIFEST = "submission.json"
TODO_MARK = 'raise NotImplementedError("TODO'


def manifest(hw: str) -> dict:
    """hwN/submission.json, or a SystemExit that says which homeworks there are."""
    path = KIT_ROOT / hw / MANIFEST
    if not path.is_file():
        known = sorted(p.parent.name for p in KIT_ROOT.glob(f"hw*/{MANIFEST}"))
        raise SystemExit(f"submit: no homework {hw!r} here (run this from the kit's folder); homeworks: {', '.join(known)}")
    return json.loads(path.read_text())


def collect(hw: str, spec: dict) -> tuple[list[Path], list[str], list[str]]:
    """(files to pack, relative to the kit; problems that make the zip useless; warnings)."""
    import torch

    package = KIT_ROOT / hw
    files, problems, warnings = [], [], []
    for name in spec["files"]:
        path = package / name
        if not path.is_file():
            problems.append(f"{hw}/{name} is missing")
            continue
        if path.stat().st_size > spec["max_file_kb"] << 10:
            problems.append(f"{hw}/{name} is over {spec['max_file_kb']} KB: the grader would refuse it")
            continue
        if TODO_MARK in path.read_text(errors="replace"):
            warnings.append(f"{hw}/{name} still has TODO blocks: their tests will score zero")
        files.append(path)
    helpers = sorted(p for p in package.glob("*.py") if p.name not in spec["official"] and p.name != "conftest.py"
                     and not p.name.startswith("test_"))
    for path in helpers[:spec["max_helpers"]]:
        warnings.append(f"{hw}/{path.name} is packed as a helper module of yours")
        files.append(path)
    if len(helpers) > spec["max_helpers"]:
        warnings.append(f"only {spec['max_helpers']} helper modules are taken by the grader; the others are left out")
    for name in spec["checkpoints"]:
        path = package / "checkpoints" / name
        if not path.is_file():
            warnings.append(f"{hw}/checkpoints/{name} is missing: train it (see the handout), or the tests that grade it "
                            f"score zero")
            continue
        if path.stat().st_size > spec["max_checkpoint_mb"] << 20:
            problems.append(f"{hw}/checkpoints/{name} is over {spec['max_checkpoint_mb']} MB: the grader would refuse it")
            continue
        try:
            torch.load(path, map_location="cpu", weights_only=True)
        except Exception as error:  # noqa: BLE001  any reason the grader could not load it either
            problems.append(f"{hw}/checkpoints/{name} does not load with torch.load(weights_only=True): "
                            f"{type(error).__name__}: {str(error).splitlines()[0][:200]}")
            continue
        files.append(path)
    return files, problems, warnings


def public_tests(hw: str) -> int:
    """Run ``pytest hwN`` as the student would; its exit status."""
    print(f"running the public tests: pytest {hw}")
    return subprocess.run([sys.executable, "-m", "pytest", hw, "-q", "--no-header", "-p", "no:cacheprovider"],
                          cwd=KIT_ROOT).returncode


def write_zip(hw: str, files: list[Path]) -> Path:
    target = KIT_ROOT / f"{hw}_submission.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in files:
            archive.write(path, path.relative_to(KIT_ROOT).as_posix())
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness submit", description=__doc__.split("\n\n")[0])
    parser.add_argument("homework", help="hw1, hw2 or hw3")
    parser.add_argument("--skip-tests", action="store_true", help="do not run the public tests first")
    args = parser.parse_args(argv)
    hw = args.homework
    spec = manifest(hw)
    tests_status = None if args.skip_tests else public_tests(hw)
    files, problems, warnings = collect(hw, spec)
    if tests_status:
        warnings.append(f"some public tests fail (pytest {hw} above): the grader runs the same ones")
    for warning in warnings:
        print(f"warning: {warning}")
    for problem in problems:
        print(f"problem: {problem}")
    if problems:
        print(f"no zip written: fix the problems above, then run  python -m harness submit {hw}  again")
        return 1
    target = write_zip(hw, files)
    print(f"wrote {target.name} with {len(files)} files:")
    for path in files:
        print(f"  {path.relative_to(KIT_ROOT).as_posix()}")
    print(f"Upload {target.name} to the {hw} assignment on Gradescope.")
    return 0
