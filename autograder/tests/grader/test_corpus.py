"""A corpus of broken and hostile submissions, graded through the real Gradescope entry point.

The fixture homework's Gradescope zip is unpacked into a temporary
``/autograder``-shaped tree; every case puts its files in ``submission/``, runs
``run_autograder`` and checks each test's score, the messages, and that
results.json is valid. hw0's tests: 1.1 (1 point) probabilities sum to one,
1.2 (2) values equal the reference, 1.3 (2, partial) gradients at two
temperatures, 2.1 (1) accuracy of the checkpoint ``linear.pt``.

Cases marked ``needs_drop`` rely on the worker running as an unprivileged user
(the grader runs as root and that user can run this Python), as on Gradescope.
"""
import io
import json
import os
import pickle
import shutil
import socket
import subprocess
import sys
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

from autograder.grading import sandbox_identity
from autograder.release import build_gradescope_zip
from autograder.results import validate

FULL = {"1.1": 1.0, "1.2": 2.0, "1.3": 2.0, "2.1": 1.0}
SOFTMAX_ZERO = {"1.1": 0.0, "1.2": 0.0, "1.3": 0.0, "2.1": 1.0}
ZERO = dict.fromkeys(FULL, 0.0)
ROOT_MARK = "@ROOT@"  # replaced by the temporary /autograder root
PORT_MARK = "@PORT@"  # replaced by a port the test listens on


@dataclass
class Case:
    ops: str | None                      # hw0/ops.py, or None to leave it out
    scores: dict                         # test number -> expected score
    messages: tuple = ()                 # each must appear in some test's output or the top-level output
    files: dict = field(default_factory=dict)  # other files of the submission: path -> str or bytes
    checkpoint: object = None            # hw0/linear.pt: bytes, or a function of the root (default: a correct one)
    needs_drop: bool = False


def reference() -> str:
    return (Path(__file__).parent / "fixture_kit/autograder/solutions/hw0/ops.py").read_text()


def with_softmax(body: str) -> str:
    """The reference with the body of tempered_softmax's fence replaced."""
    source = reference()
    start = source.index("    scaled = logits / temperature")
    end = source.index("    # END SOLUTION", start)
    return source[:start] + body + source[end:]


def at_import(code: str) -> str:
    return code + "\n" + reference()


def checkpoint_bytes(state) -> bytes:
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return buffer.getvalue()


class Exploit:
    """A pickle that would create a file when unpickled without weights_only."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


GOOD_CHECKPOINT = checkpoint_bytes({"weight": torch.tensor([[-1.0, 0.0], [1.0, 0.0]])})
TRY_READ = "try:\n    print(open({path!r}).read()[:50])\nexcept OSError as error:\n    raise RuntimeError(f'could not read: {{error}}')\n"

CASES = {
    "reference": Case(reference(), FULL),
    "syntax error": Case(reference() + "\ndef broken(:\n", ZERO, ("SyntaxError",)),
    "missing file": Case(None, ZERO, ("upload your hw0/ files", "NotImplementedError")),
    "missing function": Case(reference().replace("def tempered_softmax", "def other_name"), SOFTMAX_ZERO,
                             ("cannot import name 'tempered_softmax'",)),
    "wrong signature": Case(reference().replace("(logits: torch.Tensor, temperature: float)", "(logits)"), SOFTMAX_ZERO,
                            ("TypeError",)),
    "exception in a TODO": Case(with_softmax("    raise ValueError('not done yet')\n"), SOFTMAX_ZERO,
                                ("ValueError: not done yet",)),
    # the gradient test (1.3) differentiates column 0 only, which the truncated output still gets right
    "wrong shape": Case(with_softmax("    return torch.softmax(logits / temperature, dim=-1)[:, :-1]\n"),
                        {"1.1": 0.0, "1.2": 0.0, "1.3": 2.0, "2.1": 1.0}, ("expected shape (4, 5), got (4, 4)",)),
    "wrong dtype": Case(with_softmax("    return torch.softmax(logits / temperature, dim=-1).double()\n"),
                        {"1.1": 0.0, "1.2": 0.0, "1.3": 2.0, "2.1": 1.0}, ("dtype",)),
    "NaN": Case(with_softmax("    return logits * float('nan')\n"), SOFTMAX_ZERO),
    "inf": Case(with_softmax("    return torch.full_like(logits, float('inf'))\n"), SOFTMAX_ZERO),
    "infinite loop": Case(with_softmax("    while True:\n        pass\n"), SOFTMAX_ZERO, ("did not finish within 5 seconds",)),
    "time.sleep": Case(with_softmax("    import time\n    time.sleep(10_000)\n"), SOFTMAX_ZERO, ("did not finish",)),
    "memory exhaustion (torch)": Case(with_softmax("    return torch.ones(10**10)\n"), SOFTMAX_ZERO, ("memory limit",)),
    "memory exhaustion (python)": Case(with_softmax("    x = [0] * 10**10\n"), SOFTMAX_ZERO, ("MemoryError",)),
    "fork bomb": Case(with_softmax("    import os\n    while True:\n        try:\n            os.fork()\n"
                                   "        except OSError:\n            pass\n"), SOFTMAX_ZERO, ("did not finish",),
                      needs_drop=True),
    "megabytes of printing": Case(with_softmax("    while True:\n        print('x' * 100_000)\n"), SOFTMAX_ZERO,
                                  ("output limit",)),
    "sys.exit at import": Case(at_import("import sys\nsys.exit(3)\n"), ZERO, ("SystemExit: 3",)),
    "os._exit at import": Case(at_import("import os\nos._exit(0)\n"), ZERO, ("exited with status 0",)),
    "kills its own process": Case(at_import("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"), ZERO,
                                  ("killed",)),
    "writes results.json": Case(at_import(
        f"try:\n    open('{ROOT_MARK}/results/results.json', 'w').write('{{\"score\": 100}}')\nexcept OSError:\n    pass\n"),
        FULL),
    "deletes results.json": Case(at_import(
        f"import os\ntry:\n    os.remove('{ROOT_MARK}/results/results.json')\nexcept OSError:\n    pass\n"), FULL),
    "edits the test files": Case(at_import(
        f"try:\n    open('{ROOT_MARK}/source/hw0/tests/test_hw0_public.py', 'w').write('')\nexcept OSError:\n    pass\n"),
        FULL, needs_drop=True),
    "reads the reference solution": Case(at_import(TRY_READ.format(path=f"{ROOT_MARK}/source/autograder/solutions/hw0/ops.py")),
                                         ZERO, ("Permission denied",), needs_drop=True),
    "reads the hidden tests": Case(at_import(TRY_READ.format(path=f"{ROOT_MARK}/source/autograder/tests/hw0/test_hw0_hidden.py")),
                                   ZERO, ("Permission denied",), needs_drop=True),
    "monkeypatches torch": Case(
        "import torch\ntorch.testing.assert_close = lambda *a, **k: None\ntorch.allclose = lambda *a, **k: True\n"
        + with_softmax("    return torch.zeros_like(logits)\n"), SOFTMAX_ZERO),
    "monkeypatches pytest and the grader": Case(
        "try:\n    import pytest, autograder.sandbox\n    pytest.fail = lambda *a, **k: None\nexcept ImportError:\n    pass\n"
        + with_softmax("    return torch.zeros_like(logits)\n"), SOFTMAX_ZERO),
    "__eq__ always True": Case(
        "import torch\n\n\nclass Liar(torch.Tensor):\n    def __eq__(self, other):\n        return True\n\n\n"
        + with_softmax("    return torch.softmax(logits / temperature, dim=-1).as_subclass(Liar)\n"),
        SOFTMAX_ZERO, ("not made of tensors and plain data",)),
    "conftest.py and test_*.py in the submission": Case(
        with_softmax("    return torch.zeros_like(logits)\n"), SOFTMAX_ZERO,
        files={"hw0/conftest.py": "import pytest\n@pytest.hookimpl(tryfirst=True)\ndef pytest_runtest_call(item):\n"
                                  "    item.runtest = lambda: None\n",
               "hw0/test_fake.py": "def test_fake():\n    pass\n", "conftest.py": "raise SystemExit(0)\n"}),
    "modules named like the grader's": Case(
        with_softmax("    return torch.zeros_like(logits)\n"), SOFTMAX_ZERO,
        files={"autograder/__init__.py": "raise SystemExit(0)\n", "data/__init__.py": "raise SystemExit(0)\n",
               "hw0/tests/hw0_probes.py": "def softmax_of_seeded_logits(*a, **k):\n    return None\n",
               "torch.py": "raise SystemExit(0)\n"}),
    "malicious pickle checkpoint": Case(reference(), {**FULL, "2.1": 0.0}, ("Weights only load failed",),
                                        checkpoint=lambda root: pickle.dumps(Exploit(root / "pwned"))),
    "checkpoint of the wrong architecture": Case(reference(), {**FULL, "2.1": 0.0}, ("size mismatch",),
                                                 checkpoint=checkpoint_bytes({"weight": torch.zeros(3, 7)})),
    "opens a network connection": Case(with_softmax(
        f"    import socket\n    try:\n        socket.create_connection(('127.0.0.1', {PORT_MARK}), timeout=2).sendall(b'leak')\n"
        "    except OSError:\n        pass\n    return torch.softmax(logits / temperature, dim=-1)\n"), FULL, needs_drop=True),
}


@pytest.fixture(scope="module")
def autograder_root(tmp_path_factory):
    """An /autograder-shaped tree with the fixture homework's built zip unpacked in source/."""
    from autograder.kit import Kit
    from autograder.release import write_skeletons

    base = tmp_path_factory.mktemp("gradescope")
    kit_root = base / "kit"
    shutil.copytree(Path(__file__).parent / "fixture_kit", kit_root)
    kit = Kit(kit_root)
    write_skeletons(kit, "hw0")
    root = base / "autograder"
    with zipfile.ZipFile(build_gradescope_zip(kit, "hw0", base / "dist")) as archive:
        archive.extractall(root / "source")
    os.chmod(base, 0o755)
    os.chmod(root, 0o755)
    return root


def run_autograder(root: Path, case: Case, port: int) -> dict:
    submission = root / "submission"
    shutil.rmtree(submission, ignore_errors=True)
    shutil.rmtree(root / "results", ignore_errors=True)
    package = submission / "hw0"
    package.mkdir(parents=True)
    fill = lambda text: text.replace(ROOT_MARK, str(root)).replace(PORT_MARK, str(port))  # noqa: E731
    if case.ops is not None:
        (package / "ops.py").write_text(fill(case.ops))
    checkpoint = case.checkpoint(root) if callable(case.checkpoint) else case.checkpoint
    (package / "linear.pt").write_bytes(GOOD_CHECKPOINT if checkpoint is None else checkpoint)
    for relative, content in case.files.items():
        (submission / relative).parent.mkdir(parents=True, exist_ok=True)
        (submission / relative).write_text(content) if isinstance(content, str) else (submission / relative).write_bytes(content)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "KIT_PYTHON": sys.executable, "KIT_CALL_TIMEOUT": "5"}
    subprocess.run(["bash", str(root / "source" / "run_autograder")], env=env, timeout=600,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return json.loads((root / "results" / "results.json").read_text())


@pytest.mark.parametrize("name", list(CASES))
def test_bad_submission_gets_its_grade_and_message(name, autograder_root):
    case = CASES[name]
    if case.needs_drop and sandbox_identity()[0] is None:
        pytest.skip("needs the grader as root and an unprivileged user who can run this Python (as on Gradescope)")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.1)
    tests_file = autograder_root / "source" / "hw0" / "tests" / "test_hw0_public.py"
    tests_before = tests_file.read_bytes()
    try:
        results = run_autograder(autograder_root, case, listener.getsockname()[1])
        with pytest.raises(socket.timeout):
            listener.accept()  # nothing reached the test's port
    finally:
        listener.close()
    validate(results)
    scores = {test["number"]: test["score"] for test in results["tests"]}
    assert scores == case.scores, json.dumps(results, indent=1)[:3000]
    everything = "\n".join([results["output"]] + [test["output"] for test in results["tests"]])
    for message in case.messages:
        assert message in everything, f"{message!r} not in the messages:\n{everything[:3000]}"
    assert not (autograder_root / "pwned").exists(), "a pickle in a checkpoint was executed"
    assert tests_file.read_bytes() == tests_before, "the submission changed the grader's tests"
