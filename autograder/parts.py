"""The going-further parts of the homeworks, and which of them a course grades: ``course.toml``.

A part is a piece of a homework that a course may take or leave: its graded modules, its
checkpoints, the test files that hold only its tests, its handout section (between the lines
``<!-- part: NAME -->`` and ``<!-- end part: NAME -->`` of ``hwN/README.md``) and its tests anywhere
else, which carry ``@pytest.mark.part("NAME")``. ``course.toml`` at the kit's root declares each part
and the course's choice:

    [hw2.ridge]
    title = "R2-D2: a closed-form ridge-regression head"
    graded = true          # the course's choice: ships to students and counts
    points = 4             # the course's choice: what the part is worth
    extra_credit = true    # the course's choice: on top of the homework's total, or part of it
    modules = ["ridge.py"]                                         # what the part is made of
    checkpoints = ["ridge_K1_N5.pt"]
    tests = ["test_hw2_ridge.py", "test_hw2_ridge_reference.py"]
    test_points = 4        # the sum of its tests' weights as written; ``points`` rescales them

A part that is not graded does not ship: the release leaves its modules, tests, checkpoints and
handout section out of the student release and the Gradescope zip, and the tests of a kit that
still holds them deselect themselves (``hwN/submission.json`` lists the graded parts).
"""
from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

COURSE_FILE = "course.toml"
CHOICES = {"graded": bool, "points": (int, float), "extra_credit": bool}
DECLARATION = {"title": str, "modules": list, "checkpoints": list, "tests": list, "test_points": (int, float)}
MAX_POINTS = 1000


class CourseError(ValueError):
    """course.toml cannot be used as it is; the message names the entry and the fix."""


@dataclass(frozen=True)
class Part:
    homework: str
    name: str
    title: str
    graded: bool
    points: float
    extra_credit: bool
    modules: tuple[str, ...]
    checkpoints: tuple[str, ...]
    tests: tuple[str, ...]
    test_points: float

    @property
    def weight_scale(self) -> float:
        """What each of the part's test weights is multiplied by, so that they sum to ``points``."""
        return self.points / self.test_points

    def files(self) -> set[Path]:
        """The part's own files, relative to ``hwN/`` (tests under ``tests/``, checkpoints under ``checkpoints/``)."""
        return ({Path(m) for m in self.modules} | {Path("tests", t) for t in self.tests}
                | {Path("checkpoints", c) for c in self.checkpoints})


def read_course(root: Path) -> dict[str, dict[str, Part]]:
    """The parts that ``root/course.toml`` declares, by homework and name (none if there is no such file)."""
    path = root / COURSE_FILE
    if not path.is_file():
        return {}
    try:
        table = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as error:
        raise CourseError(f"{path}: not valid TOML ({error})") from None
    course = {}
    for hw, parts in table.items():
        if not re.fullmatch(r"hw\d+", hw) or not isinstance(parts, dict):
            raise CourseError(f"{path}: [{hw}] is not a homework's table; write [hwN.PART] tables")
        course[hw] = {name: _part(path, hw, name, entry) for name, entry in parts.items()}
    return course


def _part(path: Path, hw: str, name: str, entry) -> Part:
    where = f"{path.name}: [{hw}.{name}]"
    if not re.fullmatch(r"[a-z][a-z0-9_]*", name) or not isinstance(entry, dict):
        raise CourseError(f"{where}: a part is a table named in lower case, like [{hw}.ridge]")
    expected = {**CHOICES, **DECLARATION}
    unknown, missing = set(entry) - set(expected), set(expected) - set(entry)
    if unknown or missing:
        raise CourseError(f"{where}: " + "; ".join(
            ([f"unknown keys {sorted(unknown)}"] if unknown else []) + ([f"missing keys {sorted(missing)}"] if missing else [])))
    for key, kind in expected.items():
        if not isinstance(entry[key], kind) or (kind == bool) != isinstance(entry[key], bool):
            raise CourseError(f"{where}: {key} must be {_kind_name(kind)}, got {entry[key]!r}")
    for key in ("points", "test_points"):
        if not (math.isfinite(entry[key]) and 0 < entry[key] <= MAX_POINTS):
            raise CourseError(f"{where}: {key} must be a number in (0, {MAX_POINTS}], got {entry[key]!r}")
    for key in ("modules", "checkpoints", "tests"):
        for file in entry[key]:
            if not isinstance(file, str) or not re.fullmatch(r"[A-Za-z0-9_.-]+", file) or file.startswith("."):
                raise CourseError(f"{where}: {key} lists file names of the homework's folder, got {file!r}")
    return Part(hw, name, entry["title"], entry["graded"], float(entry["points"]), entry["extra_credit"],
                tuple(entry["modules"]), tuple(entry["checkpoints"]), tuple(entry["tests"]), float(entry["test_points"]))


def _kind_name(kind) -> str:
    return {bool: "true or false", str: "a string", list: "a list"}.get(kind, "a number")


def left_out(root: Path, hw: str) -> set[Path]:
    """Files of the parts of ``hw`` that the course does not grade, relative to ``hwN/`` (and to its
    solutions and hidden tests folders, which use the same names)."""
    return {file for part in read_course(root).get(hw, {}).values() if not part.graded for file in part.files()}


def graded_parts(root: Path, hw: str) -> list[Part]:
    return [part for part in read_course(root).get(hw, {}).values() if part.graded]


def manifest_entry(part: Part) -> dict:
    """What ``hwN/submission.json`` says of a graded part: the harness scores its tests by it."""
    return {"title": part.title, "points": part.points, "extra_credit": part.extra_credit,
            "weight_scale": part.weight_scale}


PART_SECTION = re.compile(r"^<!-- part: ([a-z][a-z0-9_]*) -->\n.*?^<!-- end part: \1 -->\n", re.S | re.M)
# Inline, in a part's section: <!--points:NAME-->5<!--/points--> and <!--credit:NAME-->extra credit<!--/credit-->,
# which read as the kit's defaults in the repository and are filled in with the course's choice on release.
CHOICE_TOKEN = re.compile(r"<!--(points|credit):([a-z][a-z0-9_]*)-->[^<]*<!--/\1-->")


def handout_for_course(text: str, parts: dict[str, Part]) -> str:
    """A homework's handout as the course gives it: the sections of the parts it does not grade removed,
    the points and the kind of credit of the others as course.toml says."""
    text = PART_SECTION.sub(lambda m: "" if m.group(1) in parts and not parts[m.group(1)].graded else m.group(0), text)

    def choice(match: re.Match) -> str:
        part = parts.get(match.group(2))
        if part is None:
            return match.group(0)
        value = f"{part.points:g}" if match.group(1) == "points" else (
            "extra credit" if part.extra_credit else "counted in the homework's total")
        return f"<!--{match.group(1)}:{part.name}-->{value}<!--/{match.group(1)}-->"

    return CHOICE_TOKEN.sub(choice, text)
