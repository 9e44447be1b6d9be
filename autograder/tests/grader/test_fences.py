import pytest

from autograder.fences import FenceError, fenced_lines, find_fences, make_skeleton

SOLUTION = '''import torch


def double(x):
    """x [B] -> [B]."""
    # BEGIN SOLUTION
    # Twice the input: [B].
    # Hint: no loop needed.
    y = x * 2
    return y
    # END SOLUTION


class Model:
    def step(self, flag):
        if flag:
            # BEGIN SOLUTION
            # Nested in a branch.
            return 1
            # END SOLUTION
        # BEGIN SOLUTION
        # Second fence of the same method.
        return 2
        # END SOLUTION


# BEGIN SOLUTION
# A module-level constant.
SCALE = 3
# END SOLUTION
'''


def test_skeleton_replaces_each_fence_by_its_hint_and_a_raise():
    skeleton = make_skeleton(SOLUTION)
    assert "x * 2" not in skeleton and "return 1" not in skeleton and "SCALE = 3" not in skeleton
    assert "    # TODO: Twice the input: [B].\n    #       Hint: no loop needed.\n" in skeleton
    assert '    raise NotImplementedError("TODO in double(): see the comment above")' in skeleton
    assert '            raise NotImplementedError("TODO in Model.step(): see the comment above")' in skeleton
    assert skeleton.count("raise NotImplementedError") == 3  # not at module level
    assert "# TODO: A module-level constant." in skeleton
    compile(skeleton, "skeleton.py", "exec")


def test_code_outside_fences_is_kept_verbatim():
    skeleton = make_skeleton(SOLUTION)
    assert skeleton.startswith('import torch\n\n\ndef double(x):\n    """x [B] -> [B]."""\n')
    assert "class Model:\n    def step(self, flag):\n        if flag:\n" in skeleton


def test_skeleton_raises_where_the_solution_returns():
    namespace = {}
    exec(compile(make_skeleton(SOLUTION), "skeleton.py", "exec"), namespace)
    with pytest.raises(NotImplementedError, match="double"):
        namespace["double"](1)
    solution_namespace = {}
    exec(compile(SOLUTION, "solution.py", "exec"), solution_namespace)
    assert solution_namespace["double"](2) == 4


def test_fences_report_owner_hint_and_code():
    fences = find_fences(SOLUTION)
    assert [f.owner for f in fences] == ["double", "Model.step", "Model.step", ""]
    assert fences[0].hint == ["Twice the input: [B].", "Hint: no loop needed."]
    assert fences[0].code == ["    y = x * 2", "    return y"]


@pytest.mark.parametrize("source, problem", [
    ("def f():\n    # BEGIN SOLUTION\n    # hint\n    return 1\n", "never closed"),
    ("def f():\n    # END SOLUTION\n", "without a"),
    ("def f():\n    # BEGIN SOLUTION\n    return 1\n    # END SOLUTION\n", "no hint"),
    ("def f():\n    # BEGIN SOLUTION\n    # hint only\n    # END SOLUTION\n", "no code"),
    ("def f():\n    # BEGIN SOLUTION\n    # hint\n    return 1\n# END SOLUTION\n", "not indented like"),
    ("def f():\n    # BEGIN SOLUTION\n    # BEGIN SOLUTION\n", "inside the fence"),
    ("def f():\n    x = 1  # BEGIN SOLUTION\n", "stand alone"),
])
def test_malformed_fences_are_errors_with_the_line(source, problem):
    with pytest.raises(FenceError, match=problem):
        make_skeleton(source, "bad.py")


def test_fenced_lines_are_the_code_between_the_markers():
    source = "def f(x):\n    # BEGIN SOLUTION\n    # a hint\n    y = x + 1\n\n    return y\n    # END SOLUTION\n"
    assert fenced_lines(source) == {4, 6}
