"""A two-function homework that exercises the grading machinery."""
