#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
# AUTOGRADER_ROOT and KIT_PYTHON override the paths; KIT_SKIP_INSTALL=1 runs the checks only.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${KIT_PYTHON:-$ROOT/venv/bin/python}"
cd "$ROOT/source"
if [ -z "${KIT_SKIP_INSTALL:-}" ]; then
    apt-get update -qq && apt-get install -y -qq python3 python3-pip python3-venv libseccomp2 > /dev/null
    python3 -m venv "$ROOT/venv"
    "$PYTHON" -m pip install -q --upgrade pip
    "$PYTHON" -m pip install -q torch --index-url https://download.pytorch.org/whl/cpu
    "$PYTHON" -m pip install -q -r requirements.txt
    chmod -R a+rX "$ROOT/venv"
fi
# Omniglot, for the grader only: the worker is given the tasks it needs, never the data set.
OMNIGLOT_CACHE="${OMNIGLOT_CACHE:-$ROOT/omniglot}" "$PYTHON" -m data.omniglot
chmod -R go-rwx "${OMNIGLOT_CACHE:-$ROOT/omniglot}"
# Checks: the grader imports, and a box for student code holds on this machine (else stop here).
"$PYTHON" -c "import torch, gradescope_utils, autograder.grading"
"$PYTHON" -m autograder check-isolation || { echo "setup: no isolation for student code on this machine" >&2; exit 1; }
echo "setup: ready"
