"""The staff's mutation testing: it runs the fenced mutants, tells public from hidden catches, and reports survivors."""
import shutil
import zipfile
from pathlib import Path

import pytest
import torch

from autograder.kit import Kit
from autograder.mutation import mutate, report
from autograder.release import build_gradescope_zip, write_skeletons


@pytest.fixture(scope="module")
def fixture_source(tmp_path_factory, fixture_kit_copy) -> Path:
    """The fixture homework's core as the Gradescope zip ships it (harness included), with a reference checkpoint."""
    base = tmp_path_factory.mktemp("mutation")
    kit = fixture_kit_copy(base / "kit")
    # The core alone: the going-further part's mutants would only lengthen the run (test_parts covers parts).
    course = kit.root / "course.toml"
    course.write_text(course.read_text().replace("graded = true", "graded = false"))
    write_skeletons(kit, "hw0")
    with zipfile.ZipFile(build_gradescope_zip(kit, "hw0", base / "dist")) as archive:
        archive.extractall(base / "source")
    checkpoints = base / "source" / "autograder" / "private" / "solutions" / "hw0" / "checkpoints"
    checkpoints.mkdir(exist_ok=True)
    torch.save({"weight": torch.tensor([[-1.0, 0.0], [1.0, 0.0]])}, checkpoints / "linear.pt")
    return base / "source"


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


def test_a_failing_baseline_stops_the_run(fixture_source, tmp_path):
    broken = tmp_path / "source"
    shutil.copytree(fixture_source, broken)
    ops = broken / "autograder" / "private" / "solutions" / "hw0" / "ops.py"
    ops.write_text(ops.read_text().replace("return torch.softmax(scaled, dim=-1)", "return scaled"))
    with pytest.raises(SystemExit, match="fail on the unmutated reference"):
        mutate(Kit(broken), "hw0", tmp_path / "work", sample=None, seed=0)
