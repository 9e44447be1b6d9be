#!/usr/bin/env bash
# Gradescope runs this once, as root, when it builds the autograder image.
# AUTOGRADER_ROOT and KIT_PYTHON override the paths; KIT_SKIP_INSTALL=1 runs the checks only.
set -euo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PYTHON="${KIT_PYTHON:-$ROOT/venv/bin/python}"
cd "$ROOT/source"
if [ -z "${KIT_SKIP_INSTALL:-}" ]; then
    apt-get update -qq && apt-get install -y -qq python3 python3-pip python3-venv > /dev/null
    python3 -m venv "$ROOT/venv"
    "$PYTHON" -m pip install -q --upgrade pip
    "$PYTHON" -m pip install -q torch --index-url https://download.pytorch.org/whl/cpu
    "$PYTHON" -m pip install -q -r requirements.txt
    chmod -R a+rX "$ROOT/venv"
fi
# Omniglot, world-readable, where the grader's unprivileged worker can read it.
OMNIGLOT_CACHE="${OMNIGLOT_CACHE:-$ROOT/omniglot}" "$PYTHON" -m data.omniglot
chmod -R a+rX "${OMNIGLOT_CACHE:-$ROOT/omniglot}"
# Checks: the grader imports, and an unprivileged user can run this Python with torch.
"$PYTHON" -c "import torch, gradescope_utils, autograder.grading"
setpriv_ok=$("$PYTHON" -c "from autograder.grading import sandbox_identity; print(sandbox_identity()[0] or '')")
[ -n "$setpriv_ok" ] || { echo "setup: the unprivileged user cannot run $PYTHON; student code would run as root" >&2; exit 1; }
echo "setup: ready"
