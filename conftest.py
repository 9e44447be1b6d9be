"""Loads the kit's pytest plugin: tests probe an implementation in a child process."""
pytest_plugins = ["autograder.pytest_plugin"]
