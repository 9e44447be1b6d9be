"""Train the MANN on the handout's grid of (K, N) and tabulate test accuracy and training time.

    python -m hw1.grid                          # K, N in (1, 2), (2, 2), (1, 3), (1, 4), (1, 5)
    python -m hw1.grid --meta_train_steps 5000  # any flag of hw1/main.py is passed on

Writes ``runs/hw1/grid.md`` (a Markdown table) and ``runs/hw1/grid.png``
(test accuracy against training steps, one curve per setting). The grid's checkpoints go to
``runs/hw1/grid_checkpoints/``, so that the one you submit (``hw1/checkpoints/mann_K1_N2.pt``)
is never overwritten. Five training runs, one after the other: each takes at least as long as
the handout's single run with the same flags, longer with more classes.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


import torch

from common.training import plot_curves
from hw1 import main as train

GRID = [(1, 2), (2, 2), (1, 3), (1, 4), (1, 5)]  # (K, N)


def run_grid(extra_args: list[str], runs_dir: Path) -> list[dict]:
    """Train every setting; return one row per setting."""
    rows = []
    checkpoints = runs_dir / "grid_checkpoints"
    for num_support, num_way in GRID:
        name = f"mann_K{num_support}_N{num_way}"
        accuracy = train.main(["--num_support", str(num_support), "--num_way", str(num_way),
                               "--runs_dir", str(runs_dir), *extra_args, "--checkpoint_dir", str(checkpoints)])
        checkpoint = torch.load(checkpoints / f"{name}.pt", weights_only=True)
        rows.append({"K": num_support, "N": num_way, "name": name, "test_accuracy": accuracy,
                     "minutes": checkpoint["metadata"]["train_seconds"] / 60})
    return rows


def markdown_table(rows: list[dict]) -> str:
    lines = ["| K (shots) | N (ways) | test accuracy | training time (min) |", "| ---: | ---: | ---: | ---: |"]
    lines += [f"| {r['K']} | {r['N']} | {r['test_accuracy']:.1%} | {r['minutes']:.1f} |" for r in rows]
    return "\n".join(lines) + "\n"


def plot_grid(rows: list[dict], runs_dir: Path, path: Path) -> None:
    import csv

    curves, steps = {}, None
    for row in rows:
        with open(runs_dir / row["name"] / "log.csv") as stream:
            log = list(csv.DictReader(stream))
        steps = [int(r["step"]) for r in log]
        curves[f"K={row['K']}, N={row['N']}"] = [float(r["test_accuracy"]) for r in log]
    plot_curves(path, steps, curves, "meta-training step", "test query accuracy", "MANN on Omniglot")


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs_dir", type=Path, default=Path("runs/hw1"))
    args, extra = parser.parse_known_args(argv)
    rows = run_grid(extra, args.runs_dir)
    (args.runs_dir / "grid.md").write_text(markdown_table(rows))
    plot_grid(rows, args.runs_dir, args.runs_dir / "grid.png")
    print(markdown_table(rows))
    return rows


if __name__ == "__main__":
    try:
        main()
    except train.OmniglotError as error:  # no data yet: say which command prepares it
        sys.exit(f"error: {error}")
