"""A corpus of broken and hostile submissions, graded the ways the kit is used.

The fixture homework's Gradescope zip is unpacked into a temporary
``/autograder``-shaped tree; every case puts its files in ``submission/``, grades
them and checks each test's score, the messages, that results.json is valid
UTF-8 JSON, and that no process of the grading is left. hw0's tests: 1.1
(1 point) probabilities sum to one, 1.2 (2) values equal the reference, 1.3 (2,
partial) gradients at two temperatures, 2.1 (1) accuracy of the checkpoint
``linear.pt``, computed with the reference's code on points drawn from the
grading's secret seed.

Layouts (``LAYOUTS``): Gradescope's ``run_autograder`` as root with the strongest
box (namespaces) and with the box a default Docker container allows (the
privilege drop and seccomp, ``KIT_ISOLATION=drop``); ``python -m autograder
grade`` as root and as a normal user (user namespaces). Every case runs in the
Gradescope layout; the cases about isolation run in the other layouts too (a few of them
locally as root, which builds the same box).
"""
import io
import json
import os
import pickle
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import torch

from autograder.release import build_gradescope_zip
from autograder.results import part_of, validate

FULL = {"1.1": 1.0, "1.2": 2.0, "1.3": 2.0, "2.1": 1.0}
SOFTMAX_ZERO = {"1.1": 0.0, "1.2": 0.0, "1.3": 0.0, "2.1": 1.0}  # 2.1 runs the reference's code on the checkpoint
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
    isolation: bool = False              # about isolation: also graded locally, as root and as a normal user
    links: dict = field(default_factory=dict)  # path in the submission -> what it links to (ROOT_MARK allowed)


def reference() -> str:
    return (Path(__file__).parent / "fixture_kit/autograder/private/solutions/hw0/ops.py").read_text()


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
TRY_READ = ("import os\ntry:\n    print(os.listdir({path!r}) if os.path.isdir({path!r}) else open({path!r}).read()[:50])\n"
            "except OSError as error:\n    raise RuntimeError(f'could not read: {{error}}')\n")
FIND_SEED = """import os
for pid in os.listdir('/proc'):
    for part in ('environ', 'cmdline'):
        try:
            text = open(f'/proc/{pid}/{part}', 'rb').read()
        except OSError:
            continue
        if b'KIT_GRADER_SEED' in text or b'--grader-seed' in text:
            raise RuntimeError(f'found the seed in /proc/{pid}/{part}')
"""
DAEMON = """import ctypes, os, time
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        ctypes.CDLL(None).prctl(1, 0)  # no parent-death signal
        for _ in range(600):
            time.sleep(1)
            try:
                open('@ROOT@/results/results.json', 'w').write('{"score": 100}')
            except OSError:
                pass
    os._exit(0)
"""
SHM_FLOOD = """    import mmap
    try:
        for part in range(300):  # files under the 8 MB file-size limit, 1.8 GB in all
            with open(f'/dev/shm/flood@PORT@-{part}', 'wb') as handle:
                for _ in range(6):
                    handle.write(b'x' * (1 << 20))
    except OSError as error:
        raise RuntimeError(f'shared memory refused: {error}')
    return torch.softmax(logits / temperature, dim=-1)
"""
SHARED_MAP = """    import mmap
    block = mmap.mmap(-1, 2200 << 20, flags=mmap.MAP_SHARED)
    for offset in range(0, len(block), 4096):
        block[offset] = 1
    return torch.softmax(logits / temperature, dim=-1)
"""
GRADING_BUDGET_HOG = """    import time
    block = torch.ones(600 << 18)  # 600 MB: under the worker's own limit, over what the grader leaves it
    time.sleep(1)  # held for longer than the watchdog's poll (a shorter burst is the documented residual risk)
    return torch.softmax(logits / temperature, dim=-1) + 0 * block.sum()
"""


def zip_bomb() -> bytes:
    """A torch.save archive that unpacks to a gigabyte: a real checkpoint plus one large deflated member."""
    buffer = io.BytesIO(GOOD_CHECKPOINT)
    with zipfile.ZipFile(buffer, "a", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("archive/data/huge", b"\0" * (1 << 30))
    return buffer.getvalue()

CASES = {
    "reference": Case(reference(), FULL),
    "syntax error": Case(reference() + "\ndef broken(:\n", SOFTMAX_ZERO, ("SyntaxError",)),
    "missing file": Case(None, SOFTMAX_ZERO, ("upload your hw0/ files", "NotImplementedError")),
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
                      isolation=True),
    "megabytes of printing": Case(with_softmax("    while True:\n        print('x' * 100_000)\n"), SOFTMAX_ZERO,
                                  ("output limit",)),
    "sys.exit at import": Case(at_import("import sys\nsys.exit(3)\n"), SOFTMAX_ZERO, ("SystemExit: 3",)),
    "os._exit at import": Case(at_import("import os\nos._exit(0)\n"), SOFTMAX_ZERO, ("exited with status 0",)),
    "kills its own process": Case(at_import("import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n"), SOFTMAX_ZERO,
                                  ("killed",)),
    "writes results.json": Case(at_import(
        f"try:\n    open('{ROOT_MARK}/results/results.json', 'w').write('{{\"score\": 100}}')\nexcept OSError:\n    pass\n"),
        FULL),
    "deletes results.json": Case(at_import(
        f"import os\ntry:\n    os.remove('{ROOT_MARK}/results/results.json')\nexcept OSError:\n    pass\n"), FULL),
    "edits the test files": Case(at_import(
        f"try:\n    open('{ROOT_MARK}/source/hw0/tests/test_hw0_public.py', 'w').write('')\nexcept OSError:\n    pass\n"),
        FULL, isolation=True),
    "reads the reference solution": Case(at_import(TRY_READ.format(path=f"{ROOT_MARK}/source/autograder/private/solutions/hw0/ops.py")),
                                         SOFTMAX_ZERO, ("could not read",), isolation=True),
    "reads the hidden tests": Case(at_import(TRY_READ.format(path=f"{ROOT_MARK}/source/autograder/private/hidden_tests/hw0/test_hw0_hidden.py")),
                                   SOFTMAX_ZERO, ("could not read",), isolation=True),
    "monkeypatches torch": Case(
        "import torch\ntorch.testing.assert_close = lambda *a, **k: None\ntorch.allclose = lambda *a, **k: True\n"
        + with_softmax("    return torch.zeros_like(logits)\n"), SOFTMAX_ZERO),
    "monkeypatches pytest and the grader": Case(
        "try:\n    import pytest, harness.sandbox\n    pytest.fail = lambda *a, **k: None\nexcept ImportError:\n    pass\n"
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
    "malicious pickle checkpoint": Case(reference(), {**FULL, "2.1": 0.0}, ("not a checkpoint written by torch.save",),
                                        checkpoint=lambda root: pickle.dumps(Exploit(root / "pwned"))),
    "checkpoint of the wrong architecture": Case(reference(), {**FULL, "2.1": 0.0}, ("size mismatch",),
                                                 checkpoint=checkpoint_bytes({"weight": torch.zeros(3, 7)})),
    "opens a network connection": Case(with_softmax(
        f"    import socket\n    try:\n        socket.create_connection(('127.0.0.1', {PORT_MARK}), timeout=2).sendall(b'leak')\n"
        "    except OSError:\n        pass\n    return torch.softmax(logits / temperature, dim=-1)\n"), FULL, isolation=True),
    "reads the data set": Case(at_import(TRY_READ.format(path=f"{ROOT_MARK}/omniglot")), SOFTMAX_ZERO, ("could not read",),
                               isolation=True),
    "reads the submission's metadata": Case(at_import(TRY_READ.format(path=f"{ROOT_MARK}/submission_metadata.json")),
                                            SOFTMAX_ZERO, ("could not read",), isolation=True),
    "reads the submission as uploaded": Case(at_import(TRY_READ.format(path=f"{ROOT_MARK}/submission")), SOFTMAX_ZERO,
                                             ("could not read",), isolation=True),
    "looks for the seed in /proc": Case(at_import(FIND_SEED), FULL, isolation=True),
    "links its code to the reference": Case(None, SOFTMAX_ZERO, ("was not taken: it is a link",), isolation=True,
                                            links={"hw0/ops.py": f"{ROOT_MARK}/source/autograder/private/solutions/hw0/ops.py"}),
    "links its package folder to the reference": Case(None, ZERO, ("upload your hw0/ files",), isolation=True,
                                                      links={"hw0": f"{ROOT_MARK}/source/autograder/private/solutions/hw0"}),
    "links to the hidden tests": Case(reference(), FULL, ("was not taken: it is a link",), isolation=True,
                                      links={"hw0/tests.pt": f"{ROOT_MARK}/source/autograder/private/hidden_tests/hw0/test_hw0_hidden.py"}),
    "hard link to the reference": Case(None, SOFTMAX_ZERO, ("was not taken: it is a hard link",), isolation=True,
                                       links={"hw0/ops.py": "hard:" + f"{ROOT_MARK}/source/autograder/private/solutions/hw0/ops.py"}),
    "a pipe named like its code": Case(None, SOFTMAX_ZERO, ("was not taken: it is not a regular file",), isolation=True,
                                       links={"hw0/ops.py": "fifo:"}),
    "a daemon that outlives the grading": Case(at_import(DAEMON), FULL, isolation=True),
    "fills /dev/shm": Case(with_softmax(SHM_FLOOD), SOFTMAX_ZERO, isolation=True),
    "maps shared memory": Case(with_softmax(SHARED_MAP), SOFTMAX_ZERO, ("memory limit",), isolation=True),
    "holds more than the grading's memory leaves it": Case(with_softmax(GRADING_BUDGET_HOG), SOFTMAX_ZERO,
                                                           ("memory limit of a whole grading",), isolation=True),
    "a checkpoint that inflates": Case(reference(), {**FULL, "2.1": 0.0}, ("unpacks to 1024 MB",),
                                       checkpoint=zip_bomb()),
    "a helper module of its own": Case(
        "from hw0.helpers import scale\n" + with_softmax("    return torch.softmax(scale(logits, temperature), dim=-1)\n"),
        FULL, ("helper module hw0/helpers.py was taken",),
        files={"hw0/helpers.py": "def scale(logits, temperature):\n    return logits / temperature\n"}),
    "a file name that is not UTF-8": Case(reference(), FULL, ("caf\ufffd.pt was not taken",),
                                          links={"hw0/caf\udce9.pt": "/etc/hostname"}),
}


LAYOUTS = ("gradescope", "gradescope-drop", "local-root", "local-user")
LOCAL_ROOT_CASES = {"reference", "reads the reference solution", "reads the data set", "looks for the seed in /proc",
                    "links its code to the reference", "a daemon that outlives the grading"}
WORKER_MARKS = (b"def serve(impl_root", b"Puts the worker in its box")  # in the cmdline of every worker and launcher


@pytest.fixture(scope="module", params=LAYOUTS)
def layout(request, fixture_kit_copy):
    """(layout, an /autograder-shaped tree with the fixture homework's built zip unpacked in source/)."""
    from autograder.release import write_skeletons

    if os.geteuid() != 0:
        pytest.skip("the corpus grades as root (Gradescope) and as a normal user; it needs root to do both")
    # Not under pytest's own folder: each pytest that starts on the machine makes that root's alone again,
    # and the workers' users must pass through every folder above the tree.
    base = Path(tempfile.mkdtemp(prefix=f"corpus-{request.param}-"))
    request.addfinalizer(lambda: shutil.rmtree(base, ignore_errors=True))
    kit = fixture_kit_copy(base / "kit")
    write_skeletons(kit, "hw0")
    root = base / "autograder"
    with zipfile.ZipFile(build_gradescope_zip(kit, "hw0", base / "dist")) as archive:
        archive.extractall(root / "source")
    (root / "omniglot").mkdir()
    (root / "omniglot" / "omniglot28_v1.npz").write_bytes(b"labels of every character")
    (root / "submission_metadata.json").write_text('{"users": []}')
    os.chmod(base, 0o755)
    os.chmod(root, 0o755)
    return request.param, root


def make_link(path: Path, target: str) -> None:
    if target == "fifo:":
        os.mkfifo(path)
    elif target.startswith("hard:"):
        os.link(target[len("hard:"):], path)
    else:
        path.symlink_to(target)


def run_grader(layout: str, root: Path, case: Case, port: int) -> dict:
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
        path = submission / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(fill(content)) if isinstance(content, str) else path.write_bytes(content)
    for relative, target in case.links.items():
        if relative == "hw0":
            shutil.rmtree(package)
        make_link(submission / relative, fill(target))
    scratch = root / "tmp"  # the grading's temporary folders, and so its workers' command lines, name it
    scratch.mkdir(exist_ok=True)
    scratch.chmod(0o1777)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "KIT_PYTHON": sys.executable, "KIT_CALL_TIMEOUT": "5",
           "OMNIGLOT_CACHE": str(root / "omniglot"), "TMPDIR": str(scratch)}
    env.pop("KIT_ISOLATION", None)
    if layout.startswith("gradescope"):
        if layout == "gradescope-drop":
            env["KIT_ISOLATION"] = "drop"
        command, become = ["bash", str(root / "source" / "run_autograder")], None
        out = root / "results" / "results.json"
    else:
        (root / "results").mkdir()
        out = root / "results" / "results.json"
        command = [sys.executable, "-m", "autograder", "grade", "hw0", "--submission", str(submission), "--out", str(out)]
        become = None
        if layout == "local-user":  # everything the staff member owns is readable by them; nobody else's is
            subprocess.run(["chmod", "-R", "a+rX", str(root / "source"), str(submission)], check=True)
            subprocess.run(["chown", "-R", "nobody", str(root / "results")], check=True)
            env["HOME"] = str(root / "results")
            become = become_nobody
    ran = subprocess.run(command, env=env, timeout=600, cwd=root / "source", preexec_fn=become,
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    (root / "grader-stderr.txt").write_bytes(ran.stderr)  # the staff-facing side, for a failing case's message
    text = out.read_bytes().decode("utf-8")  # strict: no lone surrogates
    return json.loads(text)


def become_nobody() -> None:
    os.setgroups([])
    os.setgid(65534)
    os.setuid(65534)


def worker_processes() -> dict[str, bytes]:
    """The command lines of the processes that run a worker or a launcher, by pid."""
    found = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if any(mark in cmdline for mark in WORKER_MARKS):
            found[pid] = cmdline
    return found


def leftover_processes(before: dict[str, bytes], scratch: Path) -> list[str]:
    """Workers and launchers of this grading still alive: new since ``before`` (this pytest may hold its own), and
    with the grading's temporary folder ``scratch`` on their command line (other gradings on the machine have theirs)."""
    return [f"{pid}: {cmdline[:120]!r}" for pid, cmdline in worker_processes().items()
            if before.get(pid) != cmdline and str(scratch).encode() in cmdline]


@pytest.mark.parametrize("name", list(CASES))
def test_bad_submission_gets_its_grade_and_message(name, layout):
    layout, root = layout
    case = CASES[name]
    if layout != "gradescope" and not (case.isolation or name == "reference"):
        pytest.skip("every case runs in the Gradescope layout; the other layouts run the cases about isolation")
    if layout == "local-root" and name not in LOCAL_ROOT_CASES:
        pytest.skip("as root, the local grader builds the same box as the Gradescope layout")
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.1)
    port = listener.getsockname()[1]  # also names what the case leaves in /dev/shm: other gradings run at once
    tests_file = root / "source" / "hw0" / "tests" / "test_hw0_public.py"
    tests_before = tests_file.read_bytes()
    workers_before = worker_processes()
    try:
        results = run_grader(layout, root, case, port)
        with pytest.raises(socket.timeout):
            listener.accept()  # nothing reached the test's port
    finally:
        listener.close()
    # A box's PID namespace is torn down by the kernel when its first process dies, a moment after the grader
    # returns on a busy machine (a fork bomb's thousands take longest); what is still there 10 s later survived.
    deadline = time.monotonic() + 10
    while (leftover := leftover_processes(workers_before, root / "tmp")) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not leftover, f"processes of the grading are left: {leftover}"
    validate(results)
    # The cases speak of hw0's core; its going-further part "scale" is in no case's submission.
    scores = {test["number"]: test["score"] for test in results["tests"] if part_of(test) is None}
    assert scores == case.scores, (json.dumps(results, indent=1)[:3000] + "\ngrader's stderr:\n"
                                   + (root / "grader-stderr.txt").read_text(errors="replace")[-2000:])
    everything = "\n".join([results["output"]] + [test["output"] for test in results["tests"]])
    for message in case.messages:
        assert message in everything, f"{message!r} not in the messages:\n{everything[:3000]}"
    assert not (root / "pwned").exists(), "a pickle in a checkpoint was executed"
    assert tests_file.read_bytes() == tests_before, "the submission changed the grader's tests"
    assert not list(Path("/dev/shm").glob(f"flood{port}-*")), "shared memory of the submission outlived its grading"


def test_a_box_that_does_not_hold_stops_the_grading(tmp_path, fixture_kit_copy):
    """Locally as root, the privilege drop cannot hide a world-readable kit: the grading stops, fail closed."""
    if os.geteuid() != 0:
        pytest.skip("needs root")
    submission = tmp_path / "submission" / "hw0"
    submission.mkdir(parents=True)
    (submission / "ops.py").write_text(reference())
    from autograder.kit import Kit
    from autograder.release import write_skeletons

    kit_root = fixture_kit_copy(tmp_path / "kit").root
    write_skeletons(Kit(kit_root), "hw0")
    for path in [kit_root, *kit_root.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o005)
    out = tmp_path / "results.json"
    command = [sys.executable, "-c", "import sys; from pathlib import Path; from autograder.kit import Kit; "
               "from autograder.__main__ import main; import autograder.grading as g; "
               f"sys.exit(g.grade_main(type('A', (), dict(homework='hw0', submission={str(submission.parent)!r}, "
               f"out={str(out)!r}, seed=None, unsafe_no_isolation=False))(), Kit(Path({str(kit_root)!r}))))"]
    ran = subprocess.run(command, env={**os.environ, "KIT_ISOLATION": "drop"}, capture_output=True, text=True, timeout=300)
    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert "STOPPED" in ran.stderr and "the worker can read" in ran.stderr, ran.stderr
    results = json.loads(out.read_text())
    assert results["score"] == 0 and not results["tests"] and "could not isolate" in results["output"]
