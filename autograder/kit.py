"""Where things live in the kit: one object that every tool asks for paths.

    <root>/autograder/solutions/hwN/   reference package (fenced), the source of truth
    <root>/autograder/solutions/hwN/checkpoints/  the reference's trained checkpoints
    <root>/hwN/                        generated skeleton, handout README.md, public tests/
    <root>/autograder/tests/hwN/       hidden tests (only inside the Gradescope zip)
    <root>/data/                       shared dataset code, importable by every homework
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from autograder.fences import has_fences

KIT_ROOT = Path(__file__).resolve().parent.parent
HOMEWORK_NAME = re.compile(r"^hw\d+$")
IGNORED_PARTS = {"__pycache__", ".pytest_cache", "checkpoints", "runs"}


@dataclass(frozen=True)
class Kit:
    root: Path = KIT_ROOT

    @property
    def solutions_root(self) -> Path:
        return self.root / "autograder" / "solutions"

    def homeworks(self) -> list[str]:
        if not self.solutions_root.is_dir():
            return []
        return sorted(
            (p.name for p in self.solutions_root.iterdir() if HOMEWORK_NAME.match(p.name) and (p / "__init__.py").is_file()),
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
        return self.root / "autograder" / "tests" / hw

    def reference_checkpoints(self, hw: str) -> Path:
        return self.solution_dir(hw) / "checkpoints"

    def solution_files(self, hw: str) -> list[Path]:
        """Files of the reference package, relative to it (tests, caches and checkpoints excluded)."""
        base = self.solution_dir(hw)
        return sorted(
            p.relative_to(base) for p in base.rglob("*")
            if p.is_file() and not IGNORED_PARTS.intersection(p.relative_to(base).parts) and p.suffix != ".pyc"
        )

    def graded_files(self, hw: str) -> list[Path]:
        """The files students edit: solution modules that hold at least one fence."""
        base = self.solution_dir(hw)
        return [p for p in self.solution_files(hw) if p.suffix == ".py" and has_fences((base / p).read_text())]
