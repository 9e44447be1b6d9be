"""Time to accuracy of hw2's reference learners: test accuracy (600 tasks) against minutes of training.

    # one run: train with hw2/main.py's flags, keeping a checkpoint every --save_interval steps,
    # then test every kept checkpoint on 600 test tasks
    taskset -c 1 python -m benchmarks.hw2_time_to_accuracy run protonet_fast --threads 1 --keep DIR -- \\
        --method protonet --train_way 20 --num_query 5 --batch_size 1 --lr_schedule cosine \\
        --num_train_iterations 3000 --save_interval 250

    # a run's kept step<N>.pt tested again with a test-time option changed
    python -m benchmarks.hw2_time_to_accuracy retest NAME DIR --num_query 5 --set step_size=0.03

    # the table and plot of every run so far
    python -m benchmarks.hw2_time_to_accuracy report

Each run writes docs/benchmarks/hw2/<name>.json (the command, the machine, the
curve); ``report`` turns them into docs/benchmarks/hw2_time_to_accuracy.md and
its plot. Training seconds exclude validation and testing.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

from autograder.reference import use_reference
from harness import KIT_ROOT as ROOT

use_reference()  # `import hwN` gives the reference

import torch  # noqa: E402

from common.evaluation import mean_and_interval  # noqa: E402
from hw2 import main as hw2_main  # noqa: E402

OUT = ROOT / "docs" / "benchmarks" / "hw2"
TARGETS = (0.97, 0.985)
# What each method's paper reports on Omniglot 5-way 1-shot, for the report's last column. The papers use
# Vinyals et al.'s split with rotations as classes (docs/benchmarks/hw2_published.md) and train for hours.
PAPERS = {
    "protonet": "98.8% (Snell et al. 2017)",
    "maml": "98.7% ± 0.4% (Finn et al. 2017)",
    "anil": "not reported at 5-way; 20-way 1-shot 96.2% against MAML's 93.7% in the same study (Raghu et al. 2020)",
    "ridge": "98.6% ± 0.1% (Bertinetto et al. 2019, a wider backbone)",
    "reptile": "97.68% ± 0.04% with transduction, as here (Nichol et al. 2018; 95.39% without)",
    "cavia": "not reported on Omniglot (Zintgraf et al. 2019 classify mini-ImageNet images)",
    "finetune": "86.0% for a pre-trained classifier's features with a nearest-neighbour rule (Vinyals et al. 2016)",
    "mamlpp": "99.47% ± 0.05% (Antoniou et al. 2019, 5 inner steps, 150,000 outer steps)",
}


def method_of(record: dict) -> str:
    """The ``--method`` of a run: recorded by a retest, else read from its command."""
    if "method" in record:
        return record["method"]
    words = shlex.split(record.get("trained_by", record["command"]))
    return words[words.index("--method") + 1] if "--method" in words else "?"


def cpu_name() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines() if Path("/proc/cpuinfo").exists() else []:
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def run(name: str, threads: int, main_flags: list[str], num_test_tasks: int, keep: Path | None, note: str) -> None:
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as scratch:
        flags = main_flags + ["--name", name, "--runs_dir", scratch, "--checkpoint_dir", scratch, "--device", "cpu",
                              "--num_test_tasks", str(num_test_tasks)]
        args = hw2_main.parse_args(flags)
        hw2_main.seed_everything(args.random_seed)
        hw2_main.train(args, torch.device("cpu"))
        kept = sorted(Path(scratch, name).glob("step*.pt"), key=lambda p: int(p.stem[4:]))
        # the final checkpoint last: a time limit may stop between saves
        curve = test_checkpoints(kept + [Path(scratch, f"{name}.pt")], args.num_query, num_test_tasks, {})
        if keep is not None:  # the final checkpoint, under the name that the grader expects
            keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(Path(scratch, f"{name}.pt"), keep / f"{args.method}_K{args.num_support}_N{args.num_way}.pt")
    write_record(name, threads, num_test_tasks, note, curve)


def test_checkpoints(paths: list[Path], num_query: int, num_test_tasks: int, overrides: dict) -> list[dict]:
    """The curve of a run: each checkpoint's step, training minutes and accuracy on the same test tasks, with
    ``overrides`` replacing entries of its learner's config (options that act only at test time)."""
    curve = []
    for path in paths:
        checkpoint = hw2_main.load_checkpoint(path)
        if curve and checkpoint["metadata"]["step"] == curve[-1]["step"]:
            continue
        learner = hw2_main.build_model(checkpoint["kind"], {**checkpoint["config"], **overrides})
        learner.load_state_dict(checkpoint["state_dict"])
        task = checkpoint["task"]
        tasks = hw2_main.task_sampler("test", task["protocol"], task["num_way"], task["num_support"], num_query, seed=10_000)
        mean, interval = mean_and_interval(hw2_main.evaluate(learner, tasks, num_test_tasks, torch.device("cpu")))
        curve.append({"step": checkpoint["metadata"]["step"], "minutes": round(checkpoint["metadata"]["train_seconds"] / 60, 2),
                      "test_accuracy": round(mean, 4), "interval": round(interval, 4)})
        print(curve[-1], flush=True)
    return curve


def write_record(name: str, threads: int, num_test_tasks: int, note: str, curve: list[dict], **extra) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    record = {"name": name, "command": "python -m benchmarks.hw2_time_to_accuracy " + shlex.join(sys.argv[1:]), **extra,
              "threads": threads, "cpus_allowed": sorted(os.sched_getaffinity(0)), "cpu": cpu_name(),
              "torch": torch.__version__, "num_test_tasks": num_test_tasks, "note": note, "curve": curve}
    (OUT / f"{name}.json").write_text(json.dumps(record, indent=1) + "\n")


def retest(name: str, folder: Path, overrides: list[str], num_query: int, num_test_tasks: int, threads: int,
           note: str) -> None:
    """A run's saved checkpoints (``folder``/step*.pt) tested again with test-time options changed."""
    torch.set_num_threads(threads)
    changes = {}
    for item in overrides:
        key, _, value = item.partition("=")
        changes[key] = json.loads(value)
    paths = sorted(folder.glob("step*.pt"), key=lambda p: int(p.stem[4:]))
    curve = test_checkpoints(paths, num_query, num_test_tasks, changes)
    write_record(name, threads, num_test_tasks, note, curve, method=hw2_main.load_checkpoint(paths[-1])["kind"])


def run_description(record: dict) -> list[str]:
    """Two lines of a report's list of runs: the command, then the machine and what else it was doing."""
    note = f". {record['note'][0].upper()}{record['note'][1:]}." if record.get("note") else ""
    trained = [f"  trained by `{record['trained_by']}`"] if "trained_by" in record else []
    return [f"- **{record['name']}**: `{record['command']}`", *trained,
            f"  ({record['cpu']}, CPUs {record['cpus_allowed']}, torch {record['torch']}){note}"]


def split_main_flags(argv: list[str]) -> tuple[list[str], list[str]]:
    """(this script's arguments, hw2/main.py's flags): the two sides of ``--``."""
    split = argv.index("--") if "--" in argv else len(argv)
    return argv[:split], argv[split + 1:]


def report() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = [json.loads(p.read_text()) for p in sorted(OUT.glob("*.json")) if not p.name.startswith("published_")]
    lines = ["# hw2: time to accuracy of the reference", "",
             "Test accuracy on 600 tasks of the test characters (5-way unless the run says otherwise) against",
             "minutes of training on this machine's CPU; validation and testing are not counted.",
             "Written by `python -m benchmarks.hw2_time_to_accuracy report` from the runs below.", "",
             "| run | method | threads | " + " | ".join(f"first at {t:.1%}" for t in TARGETS)
             + " | best (95% interval) | at minute | the paper's figure |",
             "| --- | --- | ---: | " + " | ".join("---:" for _ in TARGETS) + " | ---: | ---: | --- |"]
    figure, axis = plt.subplots(figsize=(7, 4.5), dpi=120)
    for record in records:
        curve = record["curve"]
        firsts = []
        for target in TARGETS:
            hit = next((point for point in curve if point["test_accuracy"] >= target), None)
            firsts.append(f"{hit['minutes']:.1f} min" if hit else "not reached")
        best = max(curve, key=lambda point: point["test_accuracy"])
        method = method_of(record)
        lines.append(f"| {record['name']} | {method} | {record['threads']} | " + " | ".join(firsts)
                     + f" | {best['test_accuracy']:.2%} ± {best['interval']:.2%} | {best['minutes']:.1f} | {PAPERS.get(method, '')} |")
        axis.plot([p["minutes"] for p in curve], [p["test_accuracy"] for p in curve], marker=".", label=record["name"])
    lines += ["", "![test accuracy against minutes of training](hw2_time_to_accuracy.png)", "", "## Runs", ""]
    for record in records:
        lines += run_description(record)
    for target in TARGETS:
        axis.axhline(target, color="grey", linewidth=0.6, linestyle="--")
    axis.set_xlabel("minutes of training")
    axis.set_ylabel("test accuracy (600 tasks)")
    axis.set_ylim(0.5, 1.0)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(OUT.parent / "hw2_time_to_accuracy.png")
    (OUT.parent / "hw2_time_to_accuracy.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("run", help="train one configuration and test its checkpoints")
    one.add_argument("name")
    one.add_argument("--threads", type=int, default=torch.get_num_threads())
    one.add_argument("--num_test_tasks", type=int, default=600)
    one.add_argument("--keep", type=Path, default=None, help="copy the final checkpoint into this folder")
    one.add_argument("--note", default="", help="what else the machine was doing, for the report")
    again = commands.add_parser("retest", help="test a run's saved step<N>.pt again, with test-time options changed")
    again.add_argument("name")
    again.add_argument("folder", type=Path, help="the run's step<N>.pt files")
    again.add_argument("--set", nargs="*", default=[], metavar="KEY=JSON", help="config entries to replace")
    again.add_argument("--num_query", type=int, default=15)
    again.add_argument("--threads", type=int, default=torch.get_num_threads())
    again.add_argument("--num_test_tasks", type=int, default=600)
    again.add_argument("--note", default="", help="what else the machine was doing, for the report")
    commands.add_parser("report", help="write the table and plot of all runs")
    own, main_flags = split_main_flags(sys.argv[1:])
    args = parser.parse_args(own)
    if args.command == "run":
        run(args.name, args.threads, main_flags, args.num_test_tasks, args.keep, args.note)
    elif args.command == "retest":
        retest(args.name, args.folder, args.set, args.num_query, args.num_test_tasks, args.threads, args.note)
    else:
        report()


if __name__ == "__main__":
    main()
