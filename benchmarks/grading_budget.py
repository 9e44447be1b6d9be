"""Time and memory of grading one homework, against Gradescope's defaults (10 min, 768 MB, no GPU).

    python -m benchmarks.grading_budget hw1 [--repeats 10] [--core 0]

Grades the reference submission with the grader's command, pinned to one core
(``taskset -c CORE``), while a poller sums the resident memory of the whole process
tree (grader, pytest, worker) every 50 ms. Writes docs/benchmarks/grading_<hw>.md; what follows
its ``## Notes`` heading (conditions, earlier figures: written by hand) is kept.
"""
import argparse
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder.kit import Kit
from harness import KIT_ROOT as ROOT

NOTES = "\n## Notes\n"


def tree_memory_mb(pid: int) -> tuple[float, float]:
    """(RSS, PSS) of ``pid`` and all its descendants, in MB. PSS shares a page among the processes
    that map it, as a container's memory limit counts it; RSS counts torch's libraries once per process."""
    children = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                children.setdefault(parent, []).append(int(entry.name))
            except (OSError, IndexError, ValueError):
                pass
    rss = pss = 0
    stack = [pid]
    while stack:
        current = stack.pop()
        try:
            for line in (Path("/proc") / str(current) / "smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            pass
        stack.extend(children.get(current, []))
    return rss / 1024, pss / 1024


def grade_once(hw: str, core: int) -> tuple[float, float, float, tuple, float]:
    """(wall seconds, peak RSS MB, score fraction, every test's score, peak PSS MB) of one grading run."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "results.json"
        command = ["taskset", "-c", str(core), sys.executable, "-m", "autograder", "grade", hw,
                   "--submission", str(Kit().solution_dir(hw)), "--out", str(out)]
        start = time.monotonic()
        process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        peak = peak_pss = 0.0
        while process.poll() is None:
            rss, pss = tree_memory_mb(process.pid)
            peak, peak_pss = max(peak, rss), max(peak_pss, pss)
            time.sleep(0.05)
        seconds = time.monotonic() - start
        import json

        results = json.loads(out.read_text())
        total = sum(t["max_score"] for t in results["tests"])
        return (seconds, peak, results["score"] / total, tuple((t["name"], t["score"]) for t in results["tests"]),
                peak_pss)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("homework")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--core", type=int, default=0, help="the one CPU core to grade on")
    args = parser.parse_args()
    runs = [grade_once(args.homework, args.core) for _ in range(args.repeats)]
    seconds = [r[0] for r in runs]
    peaks = [r[1] for r in runs]
    pss = [r[4] for r in runs]
    identical = len({r[3] for r in runs}) == 1
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    report = f"""# Grading {args.homework}: time and memory

Command: `python -m benchmarks.grading_budget {args.homework} --repeats {args.repeats} --core {args.core}`

Machine: {cpu}, pinned to one core (`taskset -c {args.core}`), Python {platform.python_version()}. The reference
submission is graded with all public and hidden tests, checkpoint evaluation included; memory is summed
over the grader, pytest and the worker, sampled every 50 ms. PSS counts a shared page once, as a
container's memory limit does; summed RSS counts torch's shared libraries once per process.

| | median | all runs | Gradescope default |
| --- | ---: | --- | ---: |
| wall time | {statistics.median(seconds):.0f} s | {", ".join(f"{s:.0f}" for s in seconds)} s | 600 s |
| peak memory, PSS (whole tree) | {statistics.median(pss):.0f} MB | {", ".join(f"{p:.0f}" for p in pss)} MB | 768 MB |
| peak memory, RSS summed (whole tree) | {statistics.median(peaks):.0f} MB | {", ".join(f"{p:.0f}" for p in peaks)} MB | |
| score | {runs[0][2]:.0%} | every test's score identical in all {args.repeats} runs: {"yes" if identical else "NO"} | |

Gradescope gives half a CPU: expect up to twice the wall time there.
"""
    path = ROOT / "docs" / "benchmarks" / f"grading_{args.homework}.md"
    notes = path.read_text().partition(NOTES)[2] if path.exists() else ""
    path.write_text(report + (NOTES + notes if notes else ""))
    print(report)


if __name__ == "__main__":
    main()
