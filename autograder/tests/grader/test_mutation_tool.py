"""The staff's mutation testing: it runs the fenced mutants, tells public from hidden catches, and reports survivors."""
import shutil
import zipfile
from pathlib import Path

import pytest
import torch

from autograder.kit import Kit
from autograder.mutation import course_part, mutate, report
from autograder.mutation import test_command as part_test_command  # not collected as a test
from autograder.release import build_gradescope_zip, write_skeletons


def gradescope_source(base: Path, copy_kit, with_part: bool) -> Path:
    """The fixture homework as the Gradescope zip ships it (harness included), with a reference checkpoint;
    its going-further part graded or not."""
    kit = copy_kit(base / "kit")
    if not with_part:
        course = kit.root / "course.toml"
        course.write_text(course.read_text().replace("graded = true", "graded = false"))
    write_skeletons(kit, "hw0")
    with zipfile.ZipFile(build_gradescope_zip(kit, "hw0", base / "dist")) as archive:
        archive.extractall(base / "source")
    checkpoints = base / "source" / "autograder" / "private" / "solutions" / "hw0" / "checkpoints"
    checkpoints.mkdir(exist_ok=True)
    torch.save({"weight": torch.tensor([[-1.0, 0.0], [1.0, 0.0]])}, checkpoints / "linear.pt")
    return base / "source"


@pytest.fixture(scope="module")
def fixture_source(tmp_path_factory, fixture_kit_copy) -> Path:
    """The fixture homework's core alone: the going-further part's mutants would only lengthen the run."""
    return gradescope_source(tmp_path_factory.mktemp("mutation"), fixture_kit_copy, with_part=False)


def test_every_fenced_mutant_runs_and_the_survivors_are_reported(fixture_source, tmp_path):
    result = mutate(Kit(fixture_source), "hw0", tmp_path / "work", sample=None, seed=0)
    assert 0 < result["in_fences"] == result["run"] <= result["generated"]
    survivors = {m.key for m in result["survivors"]}
    # The fixture's public tests only check that probabilities sum to one; its hidden tests compare with the reference.
    assert result["caught_publicly"] < result["run"] - len(survivors), "the hidden tests caught nothing more"
    # Softmax over dimension 1 of a 2-D tensor is softmax over dimension -1: an equivalent mutant, not listed here.
    assert "ops.py | return torch.softmax(scaled, dim=-1) => return torch.softmax(scaled, dim=1)" in survivors
    text = report(result, "python -m autograder mutate hw0")
    assert "## Survivors" in text and "dim=1" in text


def test_a_part_is_mutated_alone_and_judged_by_its_own_tests(fixture_kit_copy, tmp_path):
    kit = Kit(gradescope_source(tmp_path, fixture_kit_copy, with_part=True))
    part = course_part(kit, "hw0", "scale")
    for phase in ("public", "hidden"):
        tested = {Path(word).name for word in part_test_command(kit, "hw0", tmp_path / "impl", phase, part).split(" ")
                  if word.endswith(".py")}
        assert tested and tested <= set(part.tests), f"{phase}: {tested} are not all the part's tests"
    result = mutate(kit, "hw0", tmp_path / "work", sample=None, seed=0, part=part)
    assert result["run"] > 0 and not result["survivors"], "the part's tests should catch its few mutants"
    text = report(result, "python -m autograder mutate hw0 --part scale")
    assert "part scale (scale.py)" in text and "test_hw0_scale.py" in text
    with pytest.raises(SystemExit, match="no graded part 'nope'.*scale"):
        course_part(kit, "hw0", "nope")


def test_a_failing_baseline_stops_the_run(fixture_source, tmp_path):
    broken = tmp_path / "source"
    shutil.copytree(fixture_source, broken)
    ops = broken / "autograder" / "private" / "solutions" / "hw0" / "ops.py"
    ops.write_text(ops.read_text().replace("return torch.softmax(scaled, dim=-1)", "return scaled"))
    with pytest.raises(SystemExit, match="fail on the unmutated reference"):
        mutate(Kit(broken), "hw0", tmp_path / "work", sample=None, seed=0)
