"""Seconds per meta-training step of each hw2 learner, as the handout trains it, side by side.

    taskset -c 0 python -m benchmarks.hw2_learners_speed --threads 1 --rounds 5

Each learner gets random Omniglot-shaped batches of its handout command's shape (tasks per
step, ways, queries, inner steps); a step is loss, backward and an Adam step. Rounds interleave
the learners, so that a noisy machine slows them alike; the table gives the median of the rounds
and the ratio to MAML's step on the same 16 tasks of 5-way 1-shot. Writes
docs/benchmarks/hw2_learners_speed.md.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import time

from autograder.reference import use_reference
from harness import KIT_ROOT as ROOT

use_reference()  # `import hwN` gives the reference

import torch  # noqa: E402

from benchmarks.hw2_time_to_accuracy import cpu_name  # noqa: E402
from data.episodes import EpisodeBatch  # noqa: E402
from hw2.models import build_model  # noqa: E402

MAML_OPTIONS = {"num_way": 5, "num_inner_steps": 1, "inner_lr": 0.4, "learn_inner_lrs": True, "first_order": False}
# name -> (kind, config, tasks per step, ways, queries per class): the handout's commands.
LEARNERS = {
    "MAML": ("maml", MAML_OPTIONS, 16, 5, 5),
    "ANIL": ("anil", MAML_OPTIONS, 16, 5, 5),
    "CAVIA": ("cavia", {**MAML_OPTIONS, "context_dim": 100, "num_inner_steps": 2, "inner_lr": 1.0,
                        "learn_inner_lrs": False}, 16, 5, 5),
    "Reptile": ("reptile", {"num_way": 5, "num_inner_steps": 3, "inner_lr": 0.4}, 5, 5, 3),
    "MAML++ while annealing": ("mamlpp", {"num_way": 5, "num_inner_steps": 2, "inner_lr": 0.25, "first_order": False,
                                          "anneal_steps": 10 ** 9}, 16, 5, 5),
    "MAML++ annealed": ("mamlpp", {"num_way": 5, "num_inner_steps": 2, "inner_lr": 0.25, "first_order": False,
                                   "anneal_steps": 0}, 16, 5, 5),
    "ProtoNet": ("protonet", {}, 1, 20, 5),
    "ridge head": ("ridge", {}, 1, 20, 5),
    "fine-tuning baseline": ("finetune", {"num_classes": 1100}, 1, 64, 5),
}


def random_batch(tasks: int, ways: int, queries: int, generator: torch.Generator) -> EpisodeBatch:
    support = torch.rand(tasks, ways, 1, 28, 28, generator=generator)
    query = torch.rand(tasks, ways * queries, 1, 28, 28, generator=generator)
    labels = torch.arange(ways).repeat(tasks, 1)
    return EpisodeBatch(support, labels, query, torch.arange(ways).repeat_interleave(queries).repeat(tasks, 1), labels)


def time_steps(learner, optimizer, batch: EpisodeBatch, steps: int) -> float:
    start = time.perf_counter()
    for _ in range(steps):
        loss, _ = learner.loss(batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return (time.perf_counter() - start) / steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=3, help="steps per learner per round")
    parser.add_argument("--note", default="", help="what else the machine was doing, for the report")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    setups = {}
    for name, (kind, config, tasks, ways, queries) in LEARNERS.items():
        torch.manual_seed(0)
        learner = build_model(kind, config).train()
        optimizer = torch.optim.Adam([p for p in learner.parameters() if p.requires_grad], lr=1e-3)
        setups[name] = (learner, optimizer, random_batch(tasks, ways, queries, generator))
        time_steps(*setups[name], steps=1)  # warm-up
    seconds = {name: [] for name in setups}
    for _ in range(args.rounds):
        for name, setup in setups.items():
            seconds[name].append(time_steps(*setup, steps=args.steps))
    median = {name: statistics.median(values) for name, values in seconds.items()}
    lines = ["# hw2: seconds per meta-training step of each learner", "",
             f"Written by `python -m benchmarks.hw2_learners_speed {' '.join(sys.argv[1:])}` on {cpu_name()}, "
             f"CPUs {sorted(os.sched_getaffinity(0))}, {args.threads} thread(s), torch {torch.__version__}: the median of "
             f"{args.rounds} interleaved rounds of {args.steps} steps. A step is loss, backward and Adam on a batch "
             "shaped as the handout's command trains the learner." + (f" {args.note}" if args.note else ""), "",
             "| learner | tasks per step | ways | queries per class | inner steps | seconds per step | per task | ratio to MAML's step |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for name, (kind, config, tasks, ways, queries) in LEARNERS.items():
        steps = config.get("num_inner_steps", "-")
        lines.append(f"| {name} | {tasks} | {ways} | {queries} | {steps} | {median[name]:.3f} | {median[name] / tasks:.4f} "
                     f"| {median[name] / median['MAML']:.2f} |")
    text = "\n".join(lines) + "\n"
    (ROOT / "docs" / "benchmarks" / "hw2_learners_speed.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
