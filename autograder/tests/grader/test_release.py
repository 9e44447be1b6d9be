import stat
import zipfile

from autograder.kit import Kit
import pytest

from autograder.release import ReleaseError, build_gradescope_zip, build_student_release, dead_links, find_leaks, skeleton_drift


def test_generated_skeleton_has_no_drift_and_hides_the_solution(kit: Kit):
    assert skeleton_drift(kit, "hw0") == []
    skeleton = (kit.skeleton_dir("hw0") / "ops.py").read_text()
    assert "torch.softmax" not in skeleton and "raise NotImplementedError" in skeleton
    assert "# TODO: Divide the logits by the temperature, then softmax over classes: [B, N]." in skeleton
    assert (kit.skeleton_dir("hw0") / "__init__.py").is_file()  # a provided file: held in hw0/ only
    assert not (kit.solution_dir("hw0") / "__init__.py").exists()


def test_the_reference_is_assembled_like_a_students_tree(kit: Kit, tmp_path):
    root = kit.assemble_reference(tmp_path / "reference")
    package = root / "hw0"
    assert (package / "ops.py").read_text() == (kit.solution_dir("hw0") / "ops.py").read_text()
    assert (package / "__init__.py").read_text() == (kit.skeleton_dir("hw0") / "__init__.py").read_text()
    assert (package / "checkpoints" / "linear.pt").is_file()
    assert not (package / "tests").exists()


def test_check_detects_an_edited_solution(kit: Kit):
    solution = kit.solution_dir("hw0") / "ops.py"
    solution.write_text(solution.read_text().replace("Multiply by the transposed weight", "Multiply by W^T"))
    assert skeleton_drift(kit, "hw0") == ["hw0/ops.py differs from what autograder/private/solutions/hw0/ops.py generates"]


def test_check_detects_missing_skeletons_and_files_held_twice(kit: Kit):
    (kit.skeleton_dir("hw0") / "ops.py").unlink()
    (kit.skeleton_dir("hw0") / "helpers.py").write_text("x = 1  # a provided file: fine\n")
    (kit.skeleton_dir("hw0") / "stray.py").write_text("# BEGIN SOLUTION\nx = 1\n# END SOLUTION\n")
    (kit.solution_dir("hw0") / "provided.py").write_text("y = 2\n")
    problems = skeleton_drift(kit, "hw0")
    assert "hw0/ops.py is missing" in problems
    assert any(p.startswith("hw0/stray.py contains a solution fence") for p in problems)
    assert any(p.startswith("autograder/private/solutions/hw0/provided.py has no fence") for p in problems)
    assert not any("helpers.py" in p for p in problems)


def test_student_release_ships_skeleton_public_tests_and_harness_only(kit: Kit, tmp_path):
    (kit.root / "README.md").write_text("the staff's readme\n")
    (kit.root / "release" / "student" / "README.md").write_text("the students' readme: [hw0](hw0/ops.py)\n")
    (kit.root / "release" / "student" / ".gitignore").write_text("runs/\n")
    release = build_student_release(kit, tmp_path / "dist")
    files = {str(p.relative_to(release)) for p in release.rglob("*") if p.is_file()}
    assert {"hw0/ops.py", "hw0/tests/test_hw0_public.py", "hw0/tests/hw0_probes.py", "README.md", ".gitignore",
            "conftest.py", "pytest.ini", "harness/plugin.py", "harness/worker.py"} <= files
    assert (release / "README.md").read_text().startswith("the students' readme")
    assert not any(f.startswith("autograder/") for f in files)  # the staff's folder, private material included
    assert not any(f.endswith(".pt") for f in files)


def test_a_link_to_a_file_the_release_lacks_stops_the_release(kit: Kit, tmp_path):
    (kit.root / "hw0" / "README.md").write_text("[kept](tests/hw0_probes.py) [web](https://example.org) [anchor](#grading)\n"
                                                "[staff](../docs/benchmarks/hw0.md) ![plot](figures/missing.png)\n")
    with pytest.raises(ReleaseError) as error:
        build_student_release(kit, tmp_path / "dist")
    assert "hw0/README.md: ../docs/benchmarks/hw0.md" in str(error.value)
    assert "hw0/README.md: figures/missing.png" in str(error.value)
    assert "hw0_probes" not in str(error.value) and "example.org" not in str(error.value)


def test_the_kits_student_release_has_no_dead_link(tmp_path):
    """The real kit: its student README and every handout link only to files that ship."""
    release = build_student_release(Kit(), tmp_path / "dist")
    assert dead_links(release) == []
    assert "autograder release" not in (release / "README.md").read_text()  # no staff commands


def test_leak_detection_finds_solution_code_hidden_tests_and_checkpoints(kit: Kit, tmp_path):
    release = build_student_release(kit, tmp_path / "dist")
    assert find_leaks(kit, release) == []
    # a solution pasted into a provided file, with other indentation
    (release / "hw0" / "helper.py").write_text("def f(logits, temperature):\n  scaled = logits / temperature\n  return torch.softmax(scaled, dim=-1)\n")
    (release / "hw0" / "copy.py").write_bytes((kit.hidden_tests("hw0") / "test_hw0_hidden.py").read_bytes())
    (release / "hw0" / "model.pt").write_bytes((kit.reference_checkpoints("hw0") / "linear.pt").read_bytes())
    (release / "hw0" / "notes.py").write_text("# BEGIN SOLUTION\n")
    problems = "\n".join(find_leaks(kit, release))
    assert "hw0/helper.py: contains the solution of tempered_softmax" in problems
    assert "hw0/copy.py: a copy of hidden test" in problems
    assert "hw0/model.pt: a copy of reference checkpoint" in problems
    assert "hw0/notes.py: contains a solution fence marker" in problems


def test_gradescope_zip_has_scripts_at_its_root_and_only_this_homework(kit: Kit, tmp_path):
    other = kit.solutions_root / "hw7"
    other.mkdir()
    (other / "__init__.py").write_text("")
    path = build_gradescope_zip(kit, "hw0", tmp_path / "dist")
    with zipfile.ZipFile(path) as archive:
        names = set(archive.namelist())
        run = archive.getinfo("run_autograder")
        assert (run.external_attr >> 16) & stat.S_IXUSR
        assert "grade hw0" in archive.read("run_autograder").decode()
    assert {"setup.sh", "run_autograder", "autograder/private/hidden_tests/hw0/test_hw0_hidden.py",
            "autograder/private/solutions/hw0/ops.py", "hw0/tests/test_hw0_public.py", "autograder/grading.py"} <= names
    assert not any(name.startswith("autograder/private/solutions/hw7") for name in names)
