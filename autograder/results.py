"""Gradescope's results.json, built from the per-test records of the pytest plugin.

The fields are those of Gradescope's autograder specification; ``validate``
rejects anything else, so a typo cannot silently drop a score.
"""
from __future__ import annotations

TOP_LEVEL_FIELDS = {"score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
                    "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard"}
TEST_FIELDS = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format", "tags",
               "visibility", "extra_data"}
EXTRA_CREDIT = "extra credit"  # the tag of tests whose points come on top of the homework's total
PART_TAG = "part: "  # the tag of a going-further part's tests, before the part's name (autograder/parts.py)
VISIBILITIES = {"hidden", "after_due_date", "after_published", "visible"}


def gradescope_results(records: list[dict], output: str = "", execution_time: float | None = None) -> dict:
    """results.json for Gradescope; tests are sorted by their number. The score includes extra credit:
    on Gradescope the assignment's total is the required points (``required_points``), so extra credit
    goes above it."""
    tests = []
    for record in sorted(records, key=lambda r: _number_key(r.get("number"))):
        max_score = float(record["weight"])  # unrounded, so that a part's tests sum to its points (5/6 does not end)
        test = {
            "name": record["name"],
            "score": min(round(float(record["score"]), 4), max_score),
            "max_score": max_score,
            "status": "passed" if record["passed"] else "failed",
            "output": record.get("output", ""),
            "visibility": record.get("visibility", "visible"),
        }
        if record.get("number"):
            test["number"] = str(record["number"])
        tags = ([EXTRA_CREDIT] if record.get("extra_credit") else []) + \
               ([PART_TAG + record["part"]] if record.get("part") else [])
        if tags:
            test["tags"] = tags
        tests.append(test)
    results = {
        "score": round(sum(t["score"] for t in tests), 4),
        "output": output,
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }
    if execution_time is not None:
        results["execution_time"] = round(execution_time, 1)
    validate(results)
    return results


def failed_results(message: str, execution_time: float | None = None) -> dict:
    """What the grader reports when it could not run the tests at all: zero, and why."""
    results = {"score": 0.0, "output": message, "visibility": "visible", "stdout_visibility": "hidden", "tests": []}
    if execution_time is not None:
        results["execution_time"] = round(execution_time, 1)
    return results


def validate(results: dict) -> None:
    """Raise ValueError unless ``results`` follows Gradescope's specification."""
    unknown = set(results) - TOP_LEVEL_FIELDS
    if unknown:
        raise ValueError(f"results.json: unknown top-level fields {sorted(unknown)}")
    if "score" not in results and not all("score" in t for t in results.get("tests", [])):
        raise ValueError("results.json needs a top-level score or a score on every test")
    for field in ("visibility", "stdout_visibility"):
        if field in results and results[field] not in VISIBILITIES:
            raise ValueError(f"results.json: {field} must be one of {sorted(VISIBILITIES)}")
    for test in results.get("tests", []):
        unknown = set(test) - TEST_FIELDS
        if unknown:
            raise ValueError(f"results.json test {test.get('name')!r}: unknown fields {sorted(unknown)}")
        if test.get("status") not in (None, "passed", "failed"):
            raise ValueError(f"results.json test {test.get('name')!r}: status must be 'passed' or 'failed'")
        if test.get("visibility", "visible") not in VISIBILITIES:
            raise ValueError(f"results.json test {test.get('name')!r}: bad visibility {test['visibility']!r}")
        if "score" in test and "max_score" in test and not 0 <= test["score"] <= test["max_score"]:
            raise ValueError(f"results.json test {test.get('name')!r}: score outside [0, max_score]")


def summary(results: dict) -> str:
    """A readable table of a results dict, for the terminal."""
    lines = []
    for test in results["tests"]:
        mark = "PASS" if test["status"] == "passed" else "FAIL"
        lines.append(f"{mark} {test['score']:5.1f}/{test['max_score']:<5.1f} {test.get('number', ''):>5} {test['name']}")
        if test["status"] != "passed" and test.get("output"):
            lines.extend("                        " + line for line in test["output"].splitlines()[:8])
    lines.append(score_line(results))
    if results.get("output"):
        lines.append(results["output"])
    return "\n".join(lines)


def part_of(test: dict) -> str | None:
    """The going-further part a test belongs to, or None for the homework's core tests."""
    return next((tag[len(PART_TAG):] for tag in test.get("tags", ()) if tag.startswith(PART_TAG)), None)


def is_extra_credit(test: dict) -> bool:
    return EXTRA_CREDIT in test.get("tags", ())


def required_points(results: dict) -> float:
    """The homework's total: every test's points but extra credit's."""
    return sum(t["max_score"] for t in results["tests"] if not is_extra_credit(t))


def score_line(results: dict) -> str:
    """"Score: 23.0 / 23.0, extra credit 4.0 / 4.0" (the extra credit part only where the homework has one)."""
    required = [t for t in results["tests"] if not is_extra_credit(t)]
    extra = [t for t in results["tests"] if is_extra_credit(t)]
    line = f"Score: {sum(t['score'] for t in required):.1f} / {sum(t['max_score'] for t in required):.1f}"
    if extra:
        line += f", extra credit {sum(t['score'] for t in extra):.1f} / {sum(t['max_score'] for t in extra):.1f}"
    return line


def _number_key(number) -> tuple:
    if not number:
        return (float("inf"),)
    return tuple(int(part) if part.isdigit() else float("inf") for part in str(number).split("."))
