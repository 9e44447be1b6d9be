"""Fixtures of the grader's own tests: a small kit (homework hw0) copied into a temporary folder."""
import os
import shutil
from pathlib import Path

import pytest
import torch

from autograder import grading
from autograder.kit import GENERATED_PARTS, STUDENT_PACKAGES, Kit
from autograder.release import write_skeletons
from harness import KIT_ROOT
from harness.sandbox import process_memory

FIXTURE_KIT = Path(__file__).resolve().parent / "fixture_kit"


def copy_fixture_kit(root: Path) -> Kit:
    """A complete kit at ``root`` whose only homework is the fixture's hw0: the fixture's content, and
    this kit's code beside it (the harness, the shared packages, the staff's tools, the grader)."""
    shutil.copytree(FIXTURE_KIT, root)
    for folder in STUDENT_PACKAGES:
        shutil.copytree(KIT_ROOT / folder, root / folder, ignore=shutil.ignore_patterns(*GENERATED_PARTS, "*.pyc"))
    shutil.copytree(KIT_ROOT / "autograder", root / "autograder", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("private", "tests", *GENERATED_PARTS, "*.pyc"))
    return Kit(root)


@pytest.fixture(autouse=True)
def grading_memory_beside_the_test_session(monkeypatch):
    """A grading counts its caller's memory as the grader's. On Gradescope the caller is a lean
    ``python -m autograder grade``; for a ``grade()`` called in this test session it is the session, which
    grows as earlier tests load models, until the worker of a later test would get nothing. Such a
    grading gets the default budget on top of what this process holds now, so that its worker gets what
    it would get on Gradescope. Gradings in a subprocess of their own (the Gradescope layout) keep the
    default: the function is patched in this process only, never through the environment."""
    held_mb = process_memory(str(os.getpid()), set()) >> 20
    budget_mb = grading.grading_memory_mb() + held_mb
    monkeypatch.setattr(grading, "grading_memory_mb", lambda: budget_mb)


@pytest.fixture(scope="session")
def fixture_kit_copy():
    """``copy_fixture_kit`` for tests with a wider scope than one test."""
    return copy_fixture_kit


@pytest.fixture
def kit(tmp_path) -> Kit:
    """The fixture kit with its skeleton generated and a reference checkpoint that solves its task."""
    kit = copy_fixture_kit(tmp_path / "kit")
    checkpoints = kit.reference_checkpoints("hw0")
    checkpoints.mkdir()
    torch.save({"weight": torch.tensor([[-1.0, 0.0], [1.0, 0.0]])}, checkpoints / "linear.pt")
    write_skeletons(kit, "hw0")  # after the checkpoints: hw0/submission.json lists them
    return kit


@pytest.fixture
def make_submission(tmp_path, kit):
    """make_submission(ops_source, checkpoint=True, flat=False) -> a submission folder."""

    def make(ops_source: str, checkpoint: bool = True, flat: bool = False) -> Path:
        folder = tmp_path / "submission"
        package = folder if flat else folder / "hw0"
        package.mkdir(parents=True)
        (package / "ops.py").write_text(ops_source)
        if checkpoint:
            shutil.copy(kit.reference_checkpoints("hw0") / "linear.pt", package / "linear.pt")
        return folder

    return make


def reference_source(kit: Kit) -> str:
    return (kit.solution_dir("hw0") / "ops.py").read_text()
