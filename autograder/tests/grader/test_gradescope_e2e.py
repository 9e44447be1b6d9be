"""Each homework's Gradescope zip, end to end: setup.sh's checks, then run_autograder on the
reference (full marks) and on the skeleton (zero), in a temporary /autograder-shaped tree.

hw2's reference takes about 100 s to grade, and the selftest grades it anyway with the same
code: here its zip grades only the skeleton, while hw1 and hw3 take the whole path through the
zip, checkpoints and Omniglot included."""
import json
import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from autograder.kit import Kit
from autograder.release import build_gradescope_zip
from autograder.results import validate
from data.omniglot import cache_dir

KIT = Kit()
REFERENCE_THROUGH_THE_ZIP = {"hw1", "hw3"}


@pytest.mark.parametrize("hw", KIT.homeworks())
def test_zip_sets_up_and_grades_reference_and_skeleton(hw, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("setup.sh and run_autograder run as root, as on Gradescope")
    os.chmod(tmp_path, 0o755)
    root = tmp_path / "autograder"
    with zipfile.ZipFile(build_gradescope_zip(KIT, hw, tmp_path / "dist")) as archive:
        archive.extractall(root / "source")
    shutil.copytree(cache_dir(), root / "omniglot")  # setup.sh makes it root's alone: a copy, not the kit's
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "KIT_PYTHON": sys.executable, "KIT_SKIP_INSTALL": "1",
           "OMNIGLOT_CACHE": str(root / "omniglot")}
    setup = subprocess.run(["bash", str(root / "source" / "setup.sh")], env=env, capture_output=True, text=True, timeout=300)
    assert setup.returncode == 0 and "setup: ready" in setup.stdout, setup.stdout + setup.stderr
    cases = [(KIT.solution_dir(hw), True)] if hw in REFERENCE_THROUGH_THE_ZIP else []
    for submission, full in cases + [(KIT.skeleton_dir(hw), False)]:
        shutil.rmtree(root / "submission", ignore_errors=True)
        shutil.copytree(submission, root / "submission", ignore=shutil.ignore_patterns("tests", "__pycache__"))
        subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, timeout=600,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        results = json.loads((root / "results" / "results.json").read_text())
        validate(results)
        graded = [t for t in results["tests"] if t["max_score"] > 0]
        assert graded, results["output"]
        if full:
            assert all(t["score"] == t["max_score"] for t in graded), json.dumps([t for t in graded if t["score"] != t["max_score"]], indent=1)[:4000]
        else:
            assert all(t["score"] == 0 for t in graded), json.dumps([t for t in graded if t["score"] != t["max_score"]], indent=1)[:4000]
