pytest_plugins = ["harness.plugin", "autograder.reference"]
