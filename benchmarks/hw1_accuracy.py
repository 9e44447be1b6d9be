"""hw1 reference: test accuracy and training time on the (K, N) grid, next to the published figures.

    python -m benchmarks.hw1_accuracy [--meta_train_steps 10000]

Trains the reference MANN (autograder/private/solutions/hw1) on every setting of the
handout's grid with the default flags of hw1/main.py (meta-batch 128, hidden 128,
Adam 1e-3), reads the extension's run if there is one, and writes
docs/benchmarks/hw1.md and docs/benchmarks/hw1_grid.png.
"""
import os
import sys
from pathlib import Path

from autograder.reference import use_reference
from harness import KIT_ROOT as ROOT

use_reference()  # `import hwN` gives the reference

import torch  # noqa: E402

from hw1 import grid  # noqa: E402

ANCHORS = {  # (K, N): what CS330 students reported for their MANN
    (1, 2): "91-94%", (1, 3): "74-84%", (1, 4): "38-58%", (1, 5): "60% (extra credit)",
}


def main() -> None:
    runs = Path("runs/benchmark-hw1")
    rows = grid.run_grid(sys.argv[1:], runs)
    docs = ROOT / "docs" / "benchmarks"
    grid.plot_grid(rows, runs, docs / "hw1_grid.png")
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    lines = [
        "# hw1: reference accuracy on Omniglot",
        "",
        f"Command: `python -m benchmarks.hw1_accuracy {' '.join(sys.argv[1:])}`".rstrip(),
        "",
        f"Machine: {cpu}, {os.cpu_count()} cores, torch {torch.__version__}, one thread per run "
        f"(`OMP_NUM_THREADS=1`, another job on the other core). Test accuracy on 2000 tasks of the 423 test "
        "characters of CS330's split, one query per class.",
        "",
        "| K (shots) | N (ways) | reference test accuracy | training time (min) | CS330 students |",
        "| ---: | ---: | ---: | ---: | --- |",
    ]
    lines += [f"| {r['K']} | {r['N']} | {r['test_accuracy']:.1%} | {r['minutes']:.1f} | {ANCHORS.get((r['K'], r['N']), '')} |"
              for r in rows]
    lines += ["", "Santoro et al. (2016) report 82.8% on the second presentation of each class, 5-way.", "",
              "![test accuracy during training](hw1_grid.png)", ""]
    (docs / "hw1.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
