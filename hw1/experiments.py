"""The experiments of hw1's written part (hw1/report/questions.md): one command per question.

    python -m hw1.experiments grid             # Q1: ways and shots, (K, N) = (1, 2), (2, 2), (1, 3), (1, 4)
    python -m hw1.experiments hidden_size      # Q2: the LSTM's width, 32, 128 and 256
    python -m hw1.experiments support_labels   # Q3: your graded MANN with its support labels tampered with
    python -m hw1.experiments all              # the three, about 20 minutes on one thread

Q1 and Q2 train short runs of ``--steps`` meta-training steps each into runs/hw1/report/ (a
finished run is reused, so a second call only redraws); Q3 measures your graded checkpoint
(hw1/checkpoints/mann_K1_N2.pt). Each writes hw1/report/figures/<question>.png and .pdf, which
the report template shows, and <question>.json with the numbers to quote.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from common.checkpoints import load_checkpoint
from common.report import new_figure, plot_run_curves, question_parser, run_once, run_questions, save_figure
from data.episodes import EpisodeSampler, as_sequences
from data.omniglot import load_omniglot
from data.splits import character_split
from hw1 import main as hw1_main
from hw1.models import build_model

FIGURES = Path("hw1/report/figures")  # relative to the kit's folder, where the commands run
RUNS = Path("runs/hw1/report")
GRID = [(1, 2), (2, 2), (1, 3), (1, 4)]  # (K, N)


def train_run(name: str, args: argparse.Namespace, *flags: str) -> tuple[Path, dict]:
    """A short MANN run of hw1.main (``--steps`` steps) unless it finished before: its folder and checkpoint."""
    checkpoint = RUNS / "checkpoints" / f"{name}.pt"
    run_once(checkpoint, lambda: hw1_main.main([
        *flags, "--meta_train_steps", str(args.steps), "--eval_freq", "250", "--num_test_tasks", "1000",
        "--threads", str(args.threads), "--device", "cpu", "--name", name, "--runs_dir", str(RUNS),
        "--checkpoint_dir", str(checkpoint.parent)]))
    return RUNS / name, load_checkpoint(checkpoint)


def runs_figure(question: str, title: str, runs: dict[str, tuple[Path, dict]]) -> dict:
    """Test accuracy during training, one line per run (against steps), and each run's final numbers."""
    figure, axis = new_figure()
    plot_run_curves(axis, {label: run_dir for label, (run_dir, _) in runs.items()}, "test_accuracy", x="step")
    axis.set_ylabel("query accuracy on test tasks")
    axis.set_title(title)
    save_figure(figure, FIGURES / question)
    return {label: {"test_accuracy": checkpoint["metadata"]["test_accuracy"],
                    "minutes": round(checkpoint["metadata"]["train_seconds"] / 60, 1)}
            for label, (_, checkpoint) in runs.items()}


def grid(args: argparse.Namespace) -> dict:
    """Q1: the MANN on each (K, N) of GRID."""
    runs = {f"{n}-way {k}-shot": train_run(f"mann_K{k}_N{n}", args, "--num_support", str(k), "--num_way", str(n))
            for k, n in GRID}
    return runs_figure("grid", "MANN: ways and shots", runs)


def hidden_size(args: argparse.Namespace) -> dict:
    """Q2: the MANN's LSTM width on 2-way 1-shot tasks (128 is the default, the run of Q1)."""
    runs = {f"hidden {width}": train_run("mann_K1_N2" if width == 128 else f"mann_K1_N2_hidden{width}", args,
                                         "--num_support", "1", "--num_way", "2", "--hidden_dim", str(width))
            for width in (32, 128, 256)}
    numbers = runs_figure("hidden_size", "MANN: the LSTM's width (2-way 1-shot)", runs)
    for label, (_, checkpoint) in runs.items():
        model = build_model(checkpoint["kind"], checkpoint["config"])
        numbers[label]["parameters"] = sum(p.numel() for p in model.parameters())
    return numbers


@torch.no_grad()
def support_labels(args: argparse.Namespace) -> dict:
    """Q3: the graded 2-way 1-shot MANN on 2000 test tasks, as sampled and with its support set tampered with."""
    checkpoint = load_checkpoint(args.checkpoint_dir / "mann_K1_N2.pt")
    model = build_model(checkpoint["kind"], checkpoint["config"])
    model.load_state_dict(checkpoint["state_dict"])
    model.eval()
    num_way, generator = 2, torch.Generator().manual_seed(args.seed)
    sampler = EpisodeSampler(load_omniglot(), character_split("test"), num_way, 1, 1, seed=30_000 + args.seed)
    images, labels = as_sequences(sampler.sample(2000))  # [B, 2, N, 784], [B, 2, N, N]
    targets = labels[:, -1].argmax(-1)
    swapped = labels.clone()
    swapped[:, :-1] = swapped[:, :-1].flip(-1)            # every support label swapped: a consistent renaming
    random_labels = labels.clone()                        # each support image gets a random label
    random_labels[:, :-1] = torch.nn.functional.one_hot(
        torch.randint(num_way, labels.shape[:1] + (1, num_way), generator=generator), num_way).float()
    other = images.clone()                                # support images of other characters
    other[:, :-1] = images[torch.randperm(len(images), generator=generator), :-1]
    settings = {"as sampled": (images, labels, targets), "labels swapped": (images, swapped, 1 - targets),
                "random support labels": (images, random_labels, targets),
                "support of other characters": (other, labels, targets)}
    numbers = {}
    for name, (x, y, expected) in settings.items():
        logits = model(x, y)
        numbers[name] = (logits[:, -1].argmax(-1) == expected).float().mean().item()
    figure, axis = new_figure()
    axis.barh(list(numbers), list(numbers.values()))
    axis.axvline(1 / num_way, color="black", linestyle="--", linewidth=0.8, label="chance")
    axis.invert_yaxis()
    axis.set_xlim(0, 1)
    axis.set_xlabel("query accuracy (2-way 1-shot, 2000 test tasks)")
    axis.set_title("what the MANN reads from its support set")
    axis.legend()
    save_figure(figure, FIGURES / "support_labels")
    return numbers


QUESTIONS = {"grid": grid, "hidden_size": hidden_size, "support_labels": support_labels}


def main(argv=None) -> None:
    parser = question_parser(__doc__, QUESTIONS, hw1_main.CHECKPOINTS)
    parser.add_argument("--steps", type=int, default=3000, help="meta-training steps of each short run")
    run_questions(QUESTIONS, parser.parse_args(argv), FIGURES)


if __name__ == "__main__":
    main()
