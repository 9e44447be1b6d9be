"""What every training command needs and no homework should write twice."""
from __future__ import annotations

import csv
import ctypes
import ctypes.util
import random
from pathlib import Path

import numpy as np
import torch


def add_device_arguments(parser) -> None:
    """``--device`` and ``--threads``, the same for every training command."""
    parser.add_argument("--device", default="auto", help="auto (CUDA, then MPS, then CPU), cpu, cuda, mps")
    parser.add_argument("--threads", type=int, default=0,
                        help="CPU threads for torch (0: torch's default, every core); the handouts' times use 1")


def add_run_arguments(parser, homework: str, checkpoints: Path, default_name: str, seed: int = 0) -> None:
    """The seed, the device, and where a run's logs, plots and checkpoint go: the same for every training command."""
    parser.add_argument("--random_seed", type=int, default=seed)
    add_device_arguments(parser)
    parser.add_argument("--name", default=None, help=f"run name (default: {default_name})")
    parser.add_argument("--runs_dir", type=Path, default=Path("runs") / homework, help="where logs and plots go")
    parser.add_argument("--checkpoint_dir", type=Path, default=checkpoints, help="where the final checkpoint goes")


def configure_device(args) -> torch.device:
    """Apply ``--threads`` and return the device that ``--device`` names."""
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    return pick_device(args.device)


def pick_device(requested: str = "auto") -> torch.device:
    """``auto`` picks CUDA, then Apple's MPS, then the CPU; otherwise the named device."""
    if requested != "auto":
        return torch.device(requested)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def return_freed_memory() -> None:
    """Ask glibc's malloc to give freed tensor memory back to the system at once.

    By default glibc keeps large freed blocks for reuse, and a loop that allocates many
    tensors of a few MB each (the Bayes-optimal predictor of hw3, chunk after chunk) can
    grow the process to several GB. With a fixed 128 KB threshold it stays near 300 MB.
    Elsewhere than glibc (macOS, Windows) this does nothing.
    """
    library = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(library) if library else None
        mallopt = libc.mallopt if libc is not None else None
    except (OSError, AttributeError):
        return
    if mallopt is not None:
        M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
        mallopt(M_MMAP_THRESHOLD, 128 * 1024)
        mallopt(M_TRIM_THRESHOLD, 128 * 1024)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


class CsvLog:
    """Appends rows of metrics to ``path`` and keeps them for plotting."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.rows: list[dict] = []

    def write(self, **row) -> None:
        self.rows.append(row)
        with open(self.path, "w", newline="") as stream:
            writer = csv.DictWriter(stream, fieldnames=list(self.rows[0]))
            writer.writeheader()
            writer.writerows(self.rows)

    def column(self, name: str) -> list:
        return [row[name] for row in self.rows]


def plot_curves(path: Path, x: list, curves: dict[str, list], xlabel: str, ylabel: str, title: str) -> None:
    """One PNG with a line per curve."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(6, 4), dpi=120)
    for label, values in curves.items():
        axis.plot(x, values, label=label)
    axis.set_xlabel(xlabel)
    axis.set_ylabel(ylabel)
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend()
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
