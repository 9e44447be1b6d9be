"""Going-further parts chosen by course.toml: switched on and off in the release, the zip, the grading and the selftest.

The fixture kit's hw0 has one part, "scale" (scale.py, a public and a hidden test of weight 1 each,
a handout section), graded as 3 points of extra credit.
"""
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from autograder.grading import grade, selftest
from autograder.kit import Kit
from autograder.parts import CourseError, read_course
from autograder.release import build_gradescope_zip, build_student_release, skeleton_drift, write_skeletons
from autograder.results import required_points

PART_FILES = {"hw0/scale.py", "hw0/tests/test_hw0_scale.py"}


def choose(kit: Kit, **choices) -> None:
    """Set the part's keys in the fixture kit's course.toml, and regenerate hw0/submission.json as staff would."""
    path = kit.root / "course.toml"
    text = path.read_text()
    for key, value in choices.items():
        text = re.sub(rf"^{key} = .*$", f"{key} = {json.dumps(value)}", text, flags=re.M)
    path.write_text(text)
    write_skeletons(kit, "hw0")


def shipped(kit: Kit, tmp_path: Path) -> tuple[set[str], str, set[str]]:
    """What the student release holds (files, and the handout), and the Gradescope zip's files."""
    release = build_student_release(kit, tmp_path / "dist")
    files = {p.relative_to(release).as_posix() for p in release.rglob("*") if p.is_file()}
    with zipfile.ZipFile(build_gradescope_zip(kit, "hw0", tmp_path / "dist")) as archive:
        zipped = set(archive.namelist())
        handout = archive.read("hw0/README.md").decode()
    assert handout == (release / "hw0" / "README.md").read_text()
    return files, handout, zipped


def test_a_graded_part_ships_counts_its_points_and_passes_the_selftest(kit: Kit, tmp_path):
    files, handout, zipped = shipped(kit, tmp_path)
    assert PART_FILES <= files and "Going further: scaling (<!--credit:scale-->extra credit" in handout
    assert {"hw0/scale.py", "autograder/private/solutions/hw0/scale.py",
            "autograder/private/hidden_tests/hw0/test_hw0_scale_hidden.py", "course.toml"} <= zipped
    manifest = json.loads((kit.skeleton_dir("hw0") / "submission.json").read_text())
    assert "scale.py" in manifest["files"] and manifest["parts"]["scale"]["points"] == 3
    results = grade(kit, "hw0", kit.solution_dir("hw0"))
    part = [t for t in results["tests"] if "part: scale" in t.get("tags", ())]
    assert [(t["number"], t["max_score"], t["score"]) for t in part] == [("3.1", 1.5, 1.5), ("3.2", 1.5, 1.5)]
    assert required_points(results) == 6.0  # the part is extra credit
    assert selftest(kit, "hw0", seeds=[0]) == []


def test_a_part_switched_off_neither_ships_nor_counts(kit: Kit, tmp_path):
    choose(kit, graded=False)
    files, handout, zipped = shipped(kit, tmp_path)
    assert not PART_FILES & files, PART_FILES & files
    assert "scaling" not in handout and "<!-- part" not in handout and "## Submitting" in handout
    assert not {name for name in zipped if "scale" in name}, zipped
    manifest = json.loads((kit.skeleton_dir("hw0") / "submission.json").read_text())
    assert "scale.py" not in manifest["files"] and manifest["parts"] == {}
    assert skeleton_drift(kit, "hw0") == []  # the kit keeps the part's skeleton, generated as before
    results = grade(kit, "hw0", kit.solution_dir("hw0"))
    assert sorted(t["number"] for t in results["tests"]) == ["1.1", "1.2", "1.3", "2.1"]
    assert selftest(kit, "hw0", seeds=[0]) == []
    # In the kit, which still holds the part's files, its tests deselect themselves.
    run = subprocess.run([sys.executable, "-m", "pytest", "hw0/tests", "autograder/private/hidden_tests/hw0", "-q",
                          "--impl", "solution", "-p", "no:cacheprovider", "-p", "no:xdist"],
                         cwd=kit.root, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0 and "2 deselected" in run.stdout, run.stdout[-2000:]


def test_points_and_extra_credit_follow_the_course(kit: Kit, tmp_path):
    choose(kit, points=5, extra_credit=False)
    _, handout, _ = shipped(kit, tmp_path)
    assert "(<!--credit:scale-->counted in the homework's total<!--/credit-->, <!--points:scale-->5<!--/points--> points)" in handout
    results = grade(kit, "hw0", kit.solution_dir("hw0"))
    part = [t for t in results["tests"] if "part: scale" in t.get("tags", ())]
    assert [(t["max_score"], t["tags"]) for t in part] == [(2.5, ["part: scale"])] * 2
    assert required_points(results) == 11.0  # the part is now in the homework's total
    assert selftest(kit, "hw0", seeds=[0]) == []


def test_the_selftest_catches_a_part_whose_test_points_drifted(kit: Kit):
    choose(kit, test_points=3)  # the tests' weights sum to 2
    problems = selftest(kit, "hw0", seeds=[0])
    assert len(problems) == 1 and "its test_points must be the sum of its tests' weights" in problems[0], problems


@pytest.mark.parametrize(("edit", "message"), [
    ('points = 3', "points must be a number in (0, 1000], got -1"),
    ('graded = true', "graded must be true or false, got 'yes'"),
    ('title = "Going further: scaling"', "unknown keys ['colour']"),
    ('modules = ["scale.py"]', "modules lists file names of the homework's folder, got '../ops.py'"),
    ('[hw0.scale]', "a part is a table named in lower case"),
])
def test_a_bad_course_file_is_refused_with_the_entry_and_the_fix(kit: Kit, edit, message):
    replacement = {'points = 3': 'points = -1', 'graded = true': 'graded = "yes"',
                   'title = "Going further: scaling"': 'title = "Going further: scaling"\ncolour = "red"',
                   'modules = ["scale.py"]': 'modules = ["../ops.py"]', '[hw0.scale]': '[hw0.Scale]'}[edit]
    path = kit.root / "course.toml"
    path.write_text(path.read_text().replace(edit, replacement))
    with pytest.raises(CourseError, match=re.escape(message)):
        read_course(kit.root)
