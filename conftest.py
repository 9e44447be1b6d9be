"""The kit's pytest plugins: the harness (tests probe an implementation in a child process) and,
for the course staff and the grader, the reference implementation (``--impl solution``, the evaluator)."""
pytest_plugins = ["harness.plugin", "autograder.reference"]
