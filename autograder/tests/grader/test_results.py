"""results.json and the summary: extra credit is reported apart from the homework's total."""
import json
import subprocess
import sys
from pathlib import Path

from autograder.results import gradescope_results, required_points, score_line, summary

KIT_ROOT = Path(__file__).resolve().parents[3]


def record(number: str, weight: float, score: float, extra_credit: bool = False) -> dict:
    return {"name": f"test {number}", "number": number, "weight": weight, "score": score, "passed": score == weight,
            "extra_credit": extra_credit, "output": ""}


def test_extra_credit_is_tagged_and_counted_apart():
    results = gradescope_results([record("1.1", 2, 2), record("1.2", 3, 1), record("4.1", 4, 4, extra_credit=True)])
    assert [t.get("tags") for t in results["tests"]] == [None, None, ["extra credit"]]
    assert results["score"] == 7  # Gradescope's total is the required points: extra credit goes above it
    assert required_points(results) == 5
    assert score_line(results) == "Score: 3.0 / 5.0, extra credit 4.0 / 4.0"
    assert summary(results).endswith("Score: 3.0 / 5.0, extra credit 4.0 / 4.0")


def test_scaled_weights_that_do_not_end_stay_within_their_max_score():
    """A part worth 5 points over tests of 6 scales a weight of 2 to 1.666...: rounding must not lift the
    score above its max_score, which Gradescope's specification (and validate) forbids."""
    from autograder.results import validate

    scale = 5 / 6
    results = gradescope_results([record("8.1", 2 * scale, 2 * scale), record("8.2", 1 * scale, 1 * scale)])
    validate(results)
    assert all(abs(t["score"] - t["max_score"]) < 1e-4 for t in results["tests"])
    assert abs(sum(t["max_score"] for t in results["tests"]) - 2.5) < 1e-9, "the maxima sum to the part's points"


def test_a_homework_without_extra_credit_has_a_plain_score_line():
    assert score_line(gradescope_results([record("1.1", 2, 1)])) == "Score: 1.0 / 2.0"


def test_extra_credit_not_attempted_is_skipped_locally_and_scores_zero(tmp_path):
    """hw1's skeleton: the going-further tests skip (pytest stays green), and their records score zero."""
    records = tmp_path / "records.json"
    run = subprocess.run([sys.executable, "-m", "pytest", "hw1/tests/test_hw1_accuracy.py", "-k", "extension", "-q",
                          "-rs", "-p", "no:cacheprovider", "--results-json", str(records)],
                         cwd=KIT_ROOT, capture_output=True, text=True, timeout=300)
    assert "2 skipped" in run.stdout and "extra credit, not attempted" in run.stdout, run.stdout[-2000:]
    assert run.returncode == 0
    graded = json.loads(records.read_text())
    assert [(r["extra_credit"], r["score"], r["passed"]) for r in graded] == [(True, 0.0, False)] * 2
