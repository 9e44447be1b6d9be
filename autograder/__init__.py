"""The kit's grading machinery: single-source release, isolated test harness, Gradescope grading.

Students receive only the harness (``pytest_plugin``, ``sandbox``, ``worker``);
the solutions, hidden tests and grading tools stay with the course staff.
"""
