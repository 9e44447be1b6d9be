"""hw2's reference on the protocol of the published Omniglot tables, next to the papers' numbers.

    # train one learner on the published protocol (rotations as classes), then test it on
    # 600 tasks of every (way, shot) setting it can serve
    taskset -c 0 python -m benchmarks.hw2_published run protonet_1shot --threads 1 --settings 5x1 20x1 -- \\
        --method protonet --num_support 1 --train_way 20 --num_query 5 --batch_size 1 \\
        --lr_schedule cosine --num_train_iterations 9000

    python -m benchmarks.hw2_published report      # docs/benchmarks/hw2_published.md

A ProtoNet serves any number of ways; MAML's output layer fixes it, so a MAML
run tests only its own way. Test tasks have 15 queries per class at 5-way and 5
at 20-way.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import tempfile
from pathlib import Path

from autograder.reference import use_reference
from harness import KIT_ROOT as ROOT

use_reference()  # `import hwN` gives the reference

import torch

from benchmarks.hw2_time_to_accuracy import cpu_name, run_description, split_main_flags
from common.evaluation import mean_and_interval
from hw2 import main as hw2_main

OUT = ROOT / "docs" / "benchmarks" / "hw2"
# (way, shot) -> accuracy reported by Finn et al. 2017 (MAML) and Snell et al. 2017 (ProtoNet).
PAPERS = {"maml": {(5, 1): 0.987, (5, 5): 0.999, (20, 1): 0.958, (20, 5): 0.989},
          "protonet": {(5, 1): 0.988, (5, 5): 0.997, (20, 1): 0.960, (20, 5): 0.989}}


def run(name: str, threads: int, settings: list[tuple[int, int]], main_flags: list[str]) -> None:
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as scratch:
        args = hw2_main.parse_args(main_flags + ["--protocol", "published", "--name", name, "--runs_dir", scratch,
                                                 "--checkpoint_dir", scratch, "--device", "cpu", "--num_test_tasks", "50"])
        hw2_main.seed_everything(args.random_seed)
        hw2_main.train(args, torch.device("cpu"))
        checkpoint, learner = hw2_main.load_learner(Path(scratch, f"{name}.pt"), torch.device("cpu"))
    results = []
    for way, shot in settings:
        tasks = hw2_main.task_sampler("test", "published", way, shot, 15 if way <= 5 else 5, seed=30_000)
        mean, interval = mean_and_interval(hw2_main.evaluate(learner, tasks, 600, torch.device("cpu")))
        results.append({"way": way, "shot": shot, "test_accuracy": round(mean, 4), "interval": round(interval, 4)})
        print(results[-1], flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    record = {"name": name, "method": args.method, "command": "python -m benchmarks.hw2_published " + shlex.join(sys.argv[1:]),
              "minutes": round(checkpoint["metadata"]["train_seconds"] / 60, 1), "threads": threads,
              "cpus_allowed": sorted(os.sched_getaffinity(0)), "cpu": cpu_name(), "torch": torch.__version__,
              "results": results}
    (OUT / f"published_{name}.json").write_text(json.dumps(record, indent=1) + "\n")


def report() -> None:
    records = [json.loads(p.read_text()) for p in sorted(OUT.glob("published_*.json"))]
    lines = ["# hw2 on the published protocol", "",
             "Test accuracy on 600 tasks with a 95% interval, on the protocol of the published tables",
             "(rotations by 90 degrees as new classes; see docs/data.md for how our split relates to",
             "Vinyals et al.'s), next to the papers: Finn et al. 2017 for MAML, Snell et al. 2017 for ProtoNet.",
             "Written by `python -m benchmarks.hw2_published report`. A run tests its one model at every setting",
             "listed; the papers trained one model per shot (and ProtoNet on 60-way tasks), so our 5-shot",
             "rows come from a model that never saw a 5-shot task.", "",
             "| run | setting | ours | paper | minutes of training (threads) |", "| --- | --- | ---: | ---: | ---: |"]
    for record in records:
        for result in record["results"]:
            paper = PAPERS[record["method"]].get((result["way"], result["shot"]))
            lines.append(f"| {record['name']} | {result['way']}-way {result['shot']}-shot | "
                         f"{result['test_accuracy']:.2%} ± {result['interval']:.2%} | "
                         f"{f'{paper:.1%}' if paper else '-'} | {record['minutes']} ({record['threads']}) |")
    lines += ["", "## Runs", ""]
    for record in records:
        lines += run_description(record)
    (OUT.parent / "hw2_published.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("run", help="train on the published protocol and test every setting")
    one.add_argument("name")
    one.add_argument("--threads", type=int, default=torch.get_num_threads())
    one.add_argument("--settings", nargs="+", default=["5x1"], help="WAYxSHOT test settings, e.g. 5x1 20x5")
    commands.add_parser("report", help="write the table of all runs")
    own, main_flags = split_main_flags(sys.argv[1:])
    args = parser.parse_args(own)
    if args.command == "run":
        settings = [tuple(int(n) for n in setting.split("x")) for setting in args.settings]
        run(args.name, args.threads, settings, main_flags)
    else:
        report()


if __name__ == "__main__":
    main()
