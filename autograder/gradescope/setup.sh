#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
set -euo pipefail
cd /autograder/source
apt-get update -qq && apt-get install -y -qq python3 python3-pip python3-venv > /dev/null
python3 -m venv /autograder/venv
/autograder/venv/bin/pip install -q --upgrade pip
/autograder/venv/bin/pip install -q torch --index-url https://download.pytorch.org/whl/cpu
/autograder/venv/bin/pip install -q -r requirements.txt
# Omniglot, world-readable, where the grader's unprivileged worker can read it.
OMNIGLOT_CACHE=/autograder/omniglot /autograder/venv/bin/python -m data.omniglot
chmod -R a+rX /autograder/omniglot /autograder/venv
