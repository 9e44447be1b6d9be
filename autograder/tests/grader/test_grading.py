import json


from autograder.grading import grade, selftest
from autograder.kit import Kit
from autograder.results import validate

def reference(kit: Kit) -> str:
    return (kit.solution_dir("hw0") / "ops.py").read_text()


def by_number(results: dict) -> dict:
    return {t["number"]: t for t in results["tests"]}


def test_reference_scores_full_marks_and_skeleton_zero(kit: Kit):
    assert selftest(kit, "hw0", seeds=[0, 1]) == []


def test_selftest_catches_a_test_that_passes_on_the_skeleton(kit: Kit):
    test_file = kit.public_tests("hw0") / "test_hw0_public.py"
    test_file.write_text(test_file.read_text() + "\n\n@weight(1)\ndef test_nothing(impl):\n    assert True\n")
    problems = selftest(kit, "hw0", seeds=[0])
    assert len(problems) == 1 and "tests nothing" in problems[0]


def test_results_follow_gradescope_fields_with_weights_numbers_visibility(kit: Kit, make_submission):
    results = grade(kit, "hw0", make_submission(reference(kit)))
    validate(results)
    json.dumps(results)
    tests = by_number(results)
    assert list(tests) == ["1.1", "1.2", "1.3", "2.1", "3.1", "3.2"]  # sorted by number
    # The going-further part "scale" (course.toml): its two tests of weight 1 are worth 3 points, as extra credit.
    assert [tests[n]["max_score"] for n in tests] == [1.0, 2.0, 2.0, 1.0, 1.5, 1.5]
    assert tests["3.1"]["tags"] == tests["3.2"]["tags"] == ["extra credit", "part: scale"]
    assert tests["1.3"]["visibility"] == "after_due_date"
    assert results["score"] == 6.0  # the part was not submitted
    assert "accuracy 1.000 (threshold 0.9)" in tests["2.1"]["output"]


def test_partial_credit_and_per_test_failures(kit: Kit, make_submission):
    # right values, but a wrong gradient at temperature 3 only
    source = reference(kit).replace("scaled = logits / temperature",
                                    "scaled = logits / temperature if temperature < 1 else (logits / temperature).detach() + 0 * logits")
    results = grade(kit, "hw0", make_submission(source))
    tests = by_number(results)
    assert tests["1.1"]["score"] == 1.0 and tests["1.2"]["score"] == 2.0
    assert tests["1.3"]["score"] == 1.0 and tests["1.3"]["status"] == "failed"
    assert "1 of 2 temperatures" in tests["1.3"]["output"]


def test_hanging_submission_costs_the_tests_that_hang(kit: Kit, make_submission):
    source = reference(kit).replace("    scaled = logits / temperature\n", "    while True:\n        pass\n")
    results = grade(kit, "hw0", make_submission(source), extra_pytest_args=["--call-timeout", "3"])
    tests = by_number(results)
    assert tests["2.1"]["score"] == 1.0  # Linear still works after the worker was restarted
    for number in ("1.1", "1.2", "1.3"):
        assert tests[number]["score"] == 0
        assert "did not finish within 3 seconds" in tests[number]["output"]


def test_submission_raising_on_import_gets_zero_and_the_error(kit: Kit, make_submission):
    results = grade(kit, "hw0", make_submission("raise RuntimeError('broken at import')\n" + reference(kit)))
    # 2.1 runs the reference's code on the submitted checkpoint, so only the code's tests fail
    assert by_number(results)["2.1"]["score"] == 1 and results["score"] == 1 and len(results["tests"]) == 6
    for test in results["tests"][:3]:
        assert "RuntimeError: broken at import" in test["output"]
        assert "ops.py" in test["output"]


def test_submission_with_a_syntax_error_gets_zero_and_the_line(kit: Kit, make_submission):
    results = grade(kit, "hw0", make_submission(reference(kit).replace("return features @ self.weight.T", "return features @@ self")))
    assert results["score"] == 1 and len(results["tests"]) == 6  # the checkpoint's test, run with the reference's code
    assert all("SyntaxError" in t["output"] and "line 24" in t["output"] for t in results["tests"] if t["number"].startswith("1."))


def test_flat_upload_missing_checkpoint_and_empty_submission(kit: Kit, make_submission, tmp_path):
    results = grade(kit, "hw0", make_submission(reference(kit), checkpoint=False, flat=True))
    tests = by_number(results)
    assert tests["1.1"]["score"] == 1 and tests["2.1"]["score"] == 0
    assert "checkpoints/linear.pt is missing" in tests["2.1"]["output"]
    empty = tmp_path / "empty"
    empty.mkdir()
    results = grade(kit, "hw0", empty)
    assert results["score"] == 0 and "upload your hw0/ files" in results["output"]


def test_the_trusted_side_runs_on_one_thread(kit: Kit, make_submission):
    """A grading has half a CPU: a thread pool sized to the machine would stall beside any busy core."""
    test_file = kit.public_tests("hw0") / "test_hw0_public.py"
    test_file.write_text(test_file.read_text() + "\n\n@weight(1)\n@number('9.1')\ndef test_threads(impl):\n"
                         "    import torch\n    assert torch.get_num_threads() == 1, torch.get_num_threads()\n")
    results = grade(kit, "hw0", make_submission(reference(kit)))
    assert by_number(results)["9.1"]["score"] == 1.0, by_number(results)["9.1"]["output"]
