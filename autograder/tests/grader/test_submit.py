"""The students' submit helper, in a built release: what it packs is what the grader takes, and full marks."""
import shutil
import subprocess
import sys
import zipfile

from autograder.grading import grade
from autograder.kit import Kit
from autograder.release import build_student_release


def submit(release, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "harness", "submit", *args], cwd=release, capture_output=True,
                          text=True, timeout=600)


def test_the_helper_packs_a_complete_submission_that_gets_full_marks(kit: Kit, tmp_path):
    release = build_student_release(kit, tmp_path / "dist")
    for module in ("ops.py", "scale.py"):  # the core and the going-further part (course.toml)
        shutil.copy(kit.solution_dir("hw0") / module, release / "hw0" / module)
    (release / "hw0" / "checkpoints").mkdir()
    shutil.copy(kit.reference_checkpoints("hw0") / "linear.pt", release / "hw0" / "checkpoints" / "linear.pt")
    (release / "hw0" / "my_helpers.py").write_text("SCALE = 1.0\n")
    run = submit(release, "hw0")  # with the public tests, as a student runs it
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Upload hw0_submission.zip to the hw0 assignment on Gradescope" in run.stdout
    with zipfile.ZipFile(release / "hw0_submission.zip") as archive:
        assert sorted(archive.namelist()) == ["hw0/checkpoints/linear.pt", "hw0/my_helpers.py", "hw0/ops.py", "hw0/scale.py"]
        archive.extractall(tmp_path / "uploaded")
    results = grade(kit, "hw0", tmp_path / "uploaded")
    assert results["score"] == sum(t["max_score"] for t in results["tests"]) > 0, results


def test_the_helper_names_what_is_missing_and_refuses_a_checkpoint_that_does_not_load(kit: Kit, tmp_path):
    release = build_student_release(kit, tmp_path / "dist")
    run = submit(release, "hw0", "--skip-tests")
    assert run.returncode == 0  # a partial submission is still packed, with warnings
    assert "hw0/ops.py still has TODO blocks" in run.stdout
    assert "hw0/checkpoints/linear.pt is missing: train it" in run.stdout
    (release / "hw0" / "checkpoints").mkdir()
    (release / "hw0" / "checkpoints" / "linear.pt").write_bytes(b"not a checkpoint")
    run = submit(release, "hw0", "--skip-tests")
    assert run.returncode == 1 and "does not load with torch.load(weights_only=True)" in run.stdout
    assert "no zip written" in run.stdout
    run = submit(release, "hw9", "--skip-tests")
    assert run.returncode != 0 and "no homework 'hw9'" in run.stderr
