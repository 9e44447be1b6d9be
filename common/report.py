"""What the experiments of the written parts share: one figure style, PNG and PDF, runs done once.

Every homework's ``experiments.py`` trains a few short runs, then draws one figure per question:

    figure, axis = new_figure()
    plot_run_curves(axis, {"inner rate 0.4": run_dir}, "val_accuracy")
    save_figure(figure, Path("hw2/report/figures/inner_lr"))      # inner_lr.png and inner_lr.pdf
    save_numbers(Path("hw2/report/figures/inner_lr"), numbers)    # inner_lr.json, for the report's table
"""
from __future__ import annotations

import argparse
import csv
import json
import time
from collections.abc import Callable
from pathlib import Path

# One look for every report figure: readable at half a page's width, in print and on screen.
STYLE = {
    "figure.figsize": (5.5, 3.6), "figure.dpi": 150, "savefig.bbox": "tight",
    "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "legend.fontsize": 8,
    "axes.grid": True, "grid.alpha": 0.3, "axes.spines.top": False, "axes.spines.right": False,
    "lines.linewidth": 1.6, "pdf.fonttype": 42,  # TrueType in PDFs: text stays text
}


def new_figure(columns: int = 1, width: float | None = None):
    """A figure in the report style with ``columns`` axes side by side: (figure, axis or list of axes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(STYLE)
    figure, axes = plt.subplots(1, columns, figsize=(width or 5.5 * columns ** 0.8, STYLE["figure.figsize"][1]))
    return figure, axes


def save_figure(figure, stem: Path) -> list[Path]:
    """Write ``stem``.png and ``stem``.pdf, close the figure, and return both paths."""
    import matplotlib.pyplot as plt

    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    for path in paths:
        figure.savefig(path)
    plt.close(figure)
    return paths


def save_numbers(stem: Path, numbers: dict) -> Path:
    """The figure's numbers as ``stem``.json, to quote in the report."""
    path = Path(stem).with_suffix(".json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(numbers, indent=1) + "\n")
    return path


def read_log(path: Path) -> list[dict]:
    """The rows of a training command's log.csv, with numbers as floats and empty cells as None."""
    with open(path, newline="") as stream:
        return [{key: float(value) if value not in ("", None) else None for key, value in row.items()}
                for row in csv.DictReader(stream)]


def plot_run_curves(axis, runs: dict[str, Path], metric: str, x: str = "seconds") -> dict[str, float]:
    """One line per run: ``metric`` of its log.csv (where logged) against training minutes (``x`` = "seconds")
    or steps (``x`` = "step"). Returns each run's last value of ``metric``."""
    last = {}
    for label, run_dir in runs.items():
        rows = [row for row in read_log(Path(run_dir) / "log.csv") if row.get(metric) is not None]
        xs = [row[x] / 60 if x == "seconds" else row[x] for row in rows]
        axis.plot(xs, [row[metric] for row in rows], label=label)
        last[label] = rows[-1][metric] if rows else float("nan")
    axis.set_xlabel("training minutes" if x == "seconds" else "meta-training step")
    axis.legend()
    return last


def question_parser(doc: str, questions: dict[str, Callable], checkpoints: Path) -> argparse.ArgumentParser:
    """The arguments of every experiments command: the question (or "all"), threads, seed, and where the
    graded checkpoints are; a homework adds its budget of training (``--minutes``, ``--steps``)."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("question", choices=[*questions, "all"])
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (the handout's times use 1)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint_dir", type=Path, default=checkpoints, help="where your graded checkpoints are")
    return parser


def run_questions(questions: dict[str, Callable], args, figures: Path) -> None:
    """Run ``args.question`` (or "all" of them, in order) on ``args.threads`` CPU threads; save each one's
    numbers with its minutes and threads."""
    import torch

    torch.set_num_threads(args.threads)
    for question in questions if args.question == "all" else [args.question]:
        start = time.perf_counter()
        numbers = questions[question](args)
        minutes = (time.perf_counter() - start) / 60
        save_numbers(figures / question, {"minutes": round(minutes, 1), "threads": args.threads, **numbers})
        print(f"{question}: {minutes:.1f} min; figure {figures / question}.png (and .pdf), numbers in .json")


def run_once(done: Path, train: Callable[[], object]) -> float:
    """Call ``train`` unless ``done`` (its final checkpoint) exists already; return the seconds it took (0 if reused).

    So a second call of an experiment only redraws its figure, and an interrupted one resumes with
    the runs that are missing.
    """
    if Path(done).is_file():
        print(f"reusing {done}")
        return 0.0
    start = time.perf_counter()
    train()
    return time.perf_counter() - start
