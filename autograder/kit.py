"""Where things live in the kit: the one place that knows its layout.

    <root>/hwN/                                  what students receive: the handout (README.md), the
                                                 provided modules, the skeletons of the graded modules
                                                 (generated), submission.json (generated), public tests/
    <root>/data/, <root>/common/                 shared code that every homework imports
    <root>/harness/                              the test harness, which ships to students
    <root>/autograder/                           the staff's tools (release, grading, selftest, ...)
    <root>/autograder/private/                   what never ships to students:
        solutions/hwN/*.py                       the graded modules, fenced: the source of truth
        solutions/hwN/checkpoints/               the reference's trained checkpoints
        hidden_tests/hwN/                        the hidden tests (only inside the Gradescope zip)

Each file is held once. A provided module lives in ``hwN/`` only; a graded module's solution lives in
``private/solutions/hwN/`` only, and its skeleton in ``hwN/`` is generated from it. The complete
reference package is assembled like a student's: ``hwN/`` with the solutions in place of the
skeletons (``Kit.assemble_reference``). The going-further parts that the course does not grade
(``course.toml``, autograder/parts.py) stay in the kit but count nowhere: not among the graded files,
not in the package that students receive.
"""
from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from autograder.fences import has_fences
from autograder.parts import left_out
from harness import KIT_ROOT

HOMEWORK_NAME = re.compile(r"^hw\d+$")
SHARED_PACKAGES = ("data", "common")      # the kit's code that homework modules import
STUDENT_PACKAGES = ("harness", *SHARED_PACKAGES)  # ship to students with the homeworks
# Made by runs, never part of a package's source: caches, trained checkpoints, logs.
GENERATED_PARTS = {"__pycache__", ".pytest_cache", "checkpoints", "runs", "cache"}
GENERATED_SUFFIXES = {".pyc", ".pt", ".npz", ".zip", ".part"}


def copy_files(source: Path, target: Path, relatives) -> None:
    """Copy each file ``source / r`` to ``target / r``, making folders as needed."""
    for relative in relatives:
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source / relative, target / relative)


def is_generated(relative: Path) -> bool:
    """True for a path (relative to a package folder or the kit) that a run made rather than a person."""
    report_figures = any(parts == ("report", "figures") for parts in zip(relative.parts, relative.parts[1:]))
    return bool(GENERATED_PARTS.intersection(relative.parts)) or relative.suffix in GENERATED_SUFFIXES or report_figures


@dataclass(frozen=True)
class Kit:
    root: Path = KIT_ROOT

    @property
    def private_root(self) -> Path:
        return self.root / "autograder" / "private"

    @property
    def solutions_root(self) -> Path:
        return self.private_root / "solutions"

    def homeworks(self) -> list[str]:
        if not self.solutions_root.is_dir():
            return []
        return sorted(
            (p.name for p in self.solutions_root.iterdir()
             if HOMEWORK_NAME.match(p.name) and (self.skeleton_dir(p.name) / "__init__.py").is_file()),
            key=lambda name: int(name[2:]),
        )

    def check_homework(self, hw: str) -> str:
        if hw not in self.homeworks():
            raise SystemExit(f"unknown homework {hw!r}; this kit has: {', '.join(self.homeworks()) or 'none'}")
        return hw

    def solution_dir(self, hw: str) -> Path:
        return self.solutions_root / hw

    def skeleton_dir(self, hw: str) -> Path:
        return self.root / hw

    def public_tests(self, hw: str) -> Path:
        return self.root / hw / "tests"

    def hidden_tests(self, hw: str) -> Path:
        return self.private_root / "hidden_tests" / hw

    def reference_checkpoints(self, hw: str) -> Path:
        return self.solution_dir(hw) / "checkpoints"

    def solution_files(self, hw: str) -> list[Path]:
        """Source files of the solutions folder, relative to it (checkpoints and caches excluded)."""
        base = self.solution_dir(hw)
        return sorted(p.relative_to(base) for p in base.rglob("*") if p.is_file() and not is_generated(p.relative_to(base)))

    def fenced_files(self, hw: str) -> list[Path]:
        """Every module with a skeleton: solution modules that hold at least one fence, graded or not."""
        base = self.solution_dir(hw)
        return [p for p in self.solution_files(hw) if p.suffix == ".py" and has_fences((base / p).read_text())]

    def left_out(self, hw: str) -> set[Path]:
        """The files of the parts the course does not grade, relative to ``hwN/`` (autograder/parts.py)."""
        return left_out(self.root, hw)

    def graded_files(self, hw: str) -> list[Path]:
        """The modules students edit: the fenced modules of the core homework and of the graded parts."""
        excluded = self.left_out(hw)
        return [p for p in self.fenced_files(hw) if p not in excluded]

    def package_files(self, hw: str) -> list[Path]:
        """Files of the homework's package as students receive it, relative to ``hwN/`` (no tests, no runs' output,
        no part the course does not grade)."""
        base, excluded = self.skeleton_dir(hw), self.left_out(hw)
        return sorted(p.relative_to(base) for p in base.rglob("*")
                      if p.is_file() and p.relative_to(base).parts[0] != "tests" and not is_generated(p.relative_to(base))
                      and p.relative_to(base) not in excluded)

    def assemble_reference(self, into: Path, homeworks: list[str] | None = None) -> Path:
        """The complete reference packages in ``into/hwN``: the students' package with the solutions of
        the graded modules, and the reference's checkpoints. Returns ``into``, where ``import hwN`` resolves."""
        for hw in homeworks or self.homeworks():
            target = into / hw
            copy_files(self.skeleton_dir(hw), target, self.package_files(hw))
            copy_files(self.solution_dir(hw), target, self.graded_files(hw))  # over the skeletons
            if self.reference_checkpoints(hw).is_dir():
                shutil.copytree(self.reference_checkpoints(hw), target / "checkpoints",
                                ignore=shutil.ignore_patterns(".gitignore"), dirs_exist_ok=True)
        return into
