"""The experiments of hw2's written part (hw2/report/questions.md): one command per question.

    python -m hw2.experiments support_sizes   # Q1: both learners, trained 1-shot, tested with K = 1, 2, 5, 10
    python -m hw2.experiments inner_lr        # Q2: MAML with inner rates 0.04, 0.4 and 4
    python -m hw2.experiments inner_steps     # Q3: MAML with 1 and 3 inner steps
    python -m hw2.experiments learned_rates   # Q4: MAML with fixed and meta-learned inner rates
    python -m hw2.experiments train_way       # Q5: ProtoNet trained on 5-way and on 20-way tasks
    python -m hw2.experiments all             # the five, about 42 minutes on one thread

Q1 tests your graded checkpoints (hw2/checkpoints/). The others train short runs of ``--minutes``
each into runs/hw2/report/; a run that finished before is reused, so a second call only redraws.
Each writes hw2/report/figures/<question>.png and .pdf, which the report template shows, and
<question>.json with the numbers to quote.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from common.checkpoints import load_checkpoint
from common.evaluation import mean_and_interval
from common.report import new_figure, plot_run_curves, question_parser, run_once, run_questions, save_figure
from hw2 import main as hw2_main

FIGURES = Path("hw2/report/figures")  # relative to the kit's folder, where the commands run
RUNS = Path("runs/hw2/report")
TEST_SUPPORT_SIZES = (1, 2, 5, 10)


def train_run(name: str, flags: list[str], args: argparse.Namespace, val_interval: int = 50) -> Path:
    """A short 5-way 1-shot run of hw2.main (``--minutes`` of training, validated every ``val_interval`` steps),
    unless it finished before: its folder."""
    run_dir = RUNS / name
    run_once(RUNS / "checkpoints" / f"{name}.pt", lambda: hw2_main.main(flags + [
        "--time_limit", str(args.minutes), "--num_train_iterations", "1000000", "--val_interval", str(val_interval),
        "--num_val_tasks", "100", "--num_test_tasks", "200", "--threads", str(args.threads), "--device", "cpu",
        "--random_seed", str(args.seed), "--name", name, "--runs_dir", str(RUNS), "--checkpoint_dir", str(RUNS / "checkpoints")]))
    return run_dir


def maml_run(name: str, args: argparse.Namespace, *flags: str) -> Path:
    return train_run(name, ["--method", "maml", "--num_query", "5", *flags], args)


def test_accuracy(run_dir: Path) -> float:
    return load_checkpoint(RUNS / "checkpoints" / f"{run_dir.name}.pt")["metadata"]["test_accuracy"]


def curves_figure(question: str, title: str, runs: dict[str, Path]) -> dict:
    """Validation accuracy against training minutes, one line per run; the runs' test accuracies."""
    figure, axis = new_figure()
    plot_run_curves(axis, runs, "val_accuracy")
    axis.set_ylabel("validation accuracy (5-way 1-shot)")
    axis.set_title(title)
    save_figure(figure, FIGURES / question)
    return {label: {"test_accuracy": test_accuracy(run_dir), "run": str(run_dir)} for label, run_dir in runs.items()}


def support_sizes(args: argparse.Namespace) -> dict:
    """Q1: the graded 1-shot checkpoints, tested on 600 tasks at each K of TEST_SUPPORT_SIZES."""
    device = torch.device("cpu")
    figure, axis = new_figure()
    numbers = {}
    for method in ("protonet", "maml"):
        _, learner = hw2_main.load_learner(args.checkpoint_dir / f"{method}_K1_N5.pt", device)
        results = {}
        for k in TEST_SUPPORT_SIZES:
            tasks = hw2_main.task_sampler("test", "cs330", 5, k, 5, seed=20_000 + k)
            results[k] = mean_and_interval(hw2_main.evaluate(learner, tasks, 600, device))
            print(f"{method}, trained 1-shot, tested {k}-shot: {results[k][0]:.4f} +- {results[k][1]:.4f}")
        axis.errorbar(list(results), [m for m, _ in results.values()], yerr=[i for _, i in results.values()],
                      marker="o", capsize=3, label={"protonet": "prototypical network", "maml": "MAML"}[method])
        numbers[method] = {f"K{k}": {"accuracy": m, "interval": i} for k, (m, i) in results.items()}
    axis.set_xscale("log")
    axis.set_xticks(TEST_SUPPORT_SIZES, [str(k) for k in TEST_SUPPORT_SIZES])
    axis.set_xlabel("support images per class at meta-test time (K)")
    axis.set_ylabel("test accuracy (5-way, 600 tasks)")
    axis.set_title("trained on 1-shot tasks, tested with more support")
    axis.legend()
    save_figure(figure, FIGURES / "support_sizes")
    return numbers


def inner_lr(args: argparse.Namespace) -> dict:
    """Q2: MAML's inner learning rate, 0.04, 0.4 (the default) and 4."""
    runs = {f"inner rate {rate}": maml_run(f"maml_inner_lr{rate}", args, "--inner_lr", str(rate)) for rate in (0.04, 0.4, 4.0)}
    return curves_figure("inner_lr", "MAML: the inner learning rate", runs)


def inner_steps(args: argparse.Namespace) -> dict:
    """Q3: one inner step against three (same rate), on the same budget of training minutes."""
    runs = {"1 inner step": maml_run("maml_inner_lr0.4", args, "--inner_lr", "0.4"),
            "3 inner steps": maml_run("maml_3_steps", args, "--num_inner_steps", "3")}
    numbers = curves_figure("inner_steps", "MAML: inner steps, on equal training time", runs)
    for label, run_dir in runs.items():
        numbers[label]["outer_steps"] = load_checkpoint(RUNS / "checkpoints" / f"{run_dir.name}.pt")["metadata"]["step"]
    return numbers


def learned_rates(args: argparse.Namespace) -> dict:
    """Q4: fixed inner rates against meta-learned ones (one per parameter tensor), and what was learned."""
    runs = {"fixed (0.4)": maml_run("maml_inner_lr0.4", args, "--inner_lr", "0.4"),
            "meta-learned": maml_run("maml_learned_rates", args, "--learn_inner_lrs")}
    figure, (curves, bars) = new_figure(columns=2)
    plot_run_curves(curves, runs, "val_accuracy")
    curves.set_ylabel("validation accuracy (5-way 1-shot)")
    curves.set_title("fixed or meta-learned inner rates")
    state = load_checkpoint(RUNS / "checkpoints" / "maml_learned_rates.pt")["state_dict"]
    rates = {name.removeprefix("inner_lrs."): value.item() for name, value in state.items() if name.startswith("inner_lrs.")}
    bars.barh(list(rates), list(rates.values()))
    bars.axvline(0.4, color="black", linewidth=0.8, linestyle="--")
    bars.invert_yaxis()
    bars.tick_params(axis="y", labelsize=7)
    bars.set_xlabel("meta-learned inner rate (dashed: the start, 0.4)")
    save_figure(figure, FIGURES / "learned_rates")
    return {label: {"test_accuracy": test_accuracy(run_dir), "run": str(run_dir)} for label, run_dir in runs.items()} | \
        {"learned_rates": rates}


def train_way(args: argparse.Namespace) -> dict:
    """Q5: prototypical networks meta-trained on 5-way or on 20-way tasks, tested on 5-way tasks."""
    runs = {f"trained {way}-way": train_run(f"protonet_train_way{way}", [
        "--method", "protonet", "--train_way", str(way), "--num_query", "5", "--batch_size", "1"], args,
        val_interval=500)  # a ProtoNet step is some ten times cheaper than MAML's: validate as often in minutes
        for way in (5, 20)}
    return curves_figure("train_way", "prototypical networks: ways per training task", runs)


QUESTIONS = {"support_sizes": support_sizes, "inner_lr": inner_lr, "inner_steps": inner_steps,
             "learned_rates": learned_rates, "train_way": train_way}


def main(argv=None) -> None:
    parser = question_parser(__doc__, QUESTIONS, hw2_main.CHECKPOINTS)
    parser.add_argument("--minutes", type=float, default=5.0, help="training minutes of each short run")
    run_questions(QUESTIONS, parser.parse_args(argv), FIGURES)


if __name__ == "__main__":
    main()
