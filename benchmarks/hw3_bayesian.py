"""hw3's reference methods against the Bayes-optimal predictor: NLL, MSE, coverage, calibration, training time.

    # one run: train with hw3/main.py's flags (its --test runs at the end: K = 1, 2, 5, 10 on 500 tasks)
    taskset -c 1 python -m benchmarks.hw3_bayesian run cnp --threads 1 --keep DIR -- --method cnp --time_limit 6

    # a kept checkpoint tested again after a change to the evaluation (its training stays as recorded)
    python -m benchmarks.hw3_bayesian retest svgd_sinusoid_or_line DIR/svgd_sinusoid_or_line.pt

    # the tables and plots of every run so far
    python -m benchmarks.hw3_bayesian report

Each run writes docs/benchmarks/hw3/<name>.json (the command, the machine, the
figures) and copies its plots next to it; ``report`` writes docs/benchmarks/hw3.md.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
import tempfile
from pathlib import Path

from autograder.reference import use_reference
from harness import KIT_ROOT as ROOT

use_reference()  # `import hwN` gives the reference

import torch  # noqa: E402

from benchmarks.hw2_time_to_accuracy import cpu_name, run_description, split_main_flags  # noqa: E402
from hw3 import main as hw3_main  # noqa: E402

OUT = ROOT / "docs" / "benchmarks" / "hw3"
PLOTS = ("predictive.png", "active_learning.png", "reliability.png", "nll.png")


def run(name: str, threads: int, main_flags: list[str], keep: Path | None, note: str) -> None:
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory() as scratch:
        args = hw3_main.parse_args(main_flags + ["--name", name, "--runs_dir", scratch, "--checkpoint_dir", scratch,
                                                 "--device", "cpu"])
        hw3_main.seed_everything(args.random_seed)
        hw3_main.train(args, torch.device("cpu"))
        checkpoint = torch.load(Path(scratch, f"{name}.pt"), weights_only=True)
        report = json.loads(Path(scratch, name, "test.json").read_text())
        OUT.mkdir(parents=True, exist_ok=True)
        for plot in PLOTS:
            if Path(scratch, name, plot).is_file():
                shutil.copy(Path(scratch, name, plot), OUT / f"{name}_{plot}")
        if keep is not None:  # the checkpoint under the name that the grader expects
            keep.mkdir(parents=True, exist_ok=True)
            shutil.copy(Path(scratch, f"{name}.pt"), keep / f"{args.method}_{args.family}.pt")
    record = {"name": name, "command": "python -m benchmarks.hw3_bayesian " + shlex.join(sys.argv[1:]),
              "method": args.method, "family": args.family, "threads": threads,
              "cpus_allowed": sorted(os.sched_getaffinity(0)), "cpu": cpu_name(), "torch": torch.__version__,
              "note": note, "steps": checkpoint["metadata"]["step"], "minutes": round(checkpoint["metadata"]["train_seconds"] / 60, 2),
              "num_test_tasks": args.num_test_tasks, "report": report}
    (OUT / f"{name}.json").write_text(json.dumps(record, indent=1) + "\n")


def retest(name: str, checkpoint: Path, threads: int) -> None:
    """Test a run's kept checkpoint again with today's evaluation: the record's figures and plots are
    replaced, its training (command, minutes, steps) stays, and the re-test command is noted."""
    torch.set_num_threads(threads)
    path = OUT / f"{name}.json"
    record = json.loads(path.read_text())
    with tempfile.TemporaryDirectory() as scratch:
        shutil.copy(checkpoint, Path(scratch, f"{name}.pt"))
        args = hw3_main.parse_args(["--method", record["method"], "--family", record["family"], "--test", "--name", name,
                                    "--num_test_tasks", str(record["num_test_tasks"]), "--runs_dir", scratch,
                                    "--checkpoint_dir", scratch, "--device", "cpu"])
        record["report"] = hw3_main.test(args)
        for plot in PLOTS[:-1]:  # the training curve stays
            if Path(scratch, name, plot).is_file():
                shutil.copy(Path(scratch, name, plot), OUT / f"{name}_{plot}")
    record["retest_command"] = "python -m benchmarks.hw3_bayesian " + shlex.join(sys.argv[1:])
    path.write_text(json.dumps(record, indent=1) + "\n")


def report() -> None:
    records = [json.loads(path.read_text()) for path in sorted(OUT.glob("*.json"))]
    regression = [r for r in records if r["family"] != "attributes"]
    lines = ["# hw3: Bayesian meta-learners against the Bayes-optimal predictor", "",
             "Held-out tasks (500 per K, 50 query points each; the same tasks for every method), "
             "per query point. *optimum*: the exact Bayes-optimal posterior predictive (`data/regression.py`). "
             "Coverage: the fraction of targets in the central 90% predictive interval; "
             "calibration: the mean gap between the fraction of targets under each predictive quantile "
             "(5%, 10%, ..., 95%) and its level. Training minutes exclude validation and testing.", ""]
    for family in sorted({r["family"] for r in regression}):
        lines += [f"## {family}", "", "| run | minutes | K | NLL | optimum | gap | MSE | optimum | coverage 90% | calibration |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for record in (r for r in regression if r["family"] == family):
            for key, result in record["report"].items():
                if not key.startswith("K"):
                    continue
                model, optimum = result["model"], result["optimum"]
                lines.append(f"| {record['name']} | {record['minutes']:.1f} | {key[1:]} | {model['nll']:.3f} | "
                             f"{optimum['nll']:.3f} | {model['nll'] - optimum['nll']:+.3f} | {model['mse']:.3f} | "
                             f"{optimum['mse']:.3f} | {model['coverage90']:.3f} | {model['calibration']:.3f} |")
        lines += ["", "Active learning (100 tasks; a pool of 100 candidates, 10 test points; the first point random): "
                  "test MSE after 1 to 5 points.", "", "| run | strategy | 1 | 2 | 3 | 4 | 5 |", "| --- | --- | ---: | ---: | ---: | ---: | ---: |"]
        for record in (r for r in regression if r["family"] == family):
            for strategy, curve in record["report"]["active_learning_mse"].items():
                lines.append(f"| {record['name']} | {strategy} | " + " | ".join(f"{v:.3f}" for v in curve) + " |")
        lines.append("")
        ambiguity = [r for r in regression if r["family"] == family and "line_or_sinusoid" in r["report"]]
        if ambiguity:
            lines += ["Line or sinusoid (K = 2, 500 tasks): on the tasks where the optimum's P(line | D) is between 0.2 "
                      "and 0.8, the fraction whose 10 sampled functions include both a line (R^2 of a line fit over "
                      "0.9) and a function that is not one.", "", "| run | ambiguous tasks | both kinds |",
                      "| --- | ---: | ---: |"]
            for record in ambiguity:
                measured = record["report"]["line_or_sinusoid"]
                lines.append(f"| {record['name']} | {measured['ambiguous_tasks']} | {measured['both_kinds']:.3f} |")
            lines.append("")
    classification = [r for r in records if r["family"] == "attributes"]
    if classification:
        lines += ["## Ambiguous attributes (1-shot, 500 tasks, 20 queries each)", "",
                  "*optimum*: the Bayes-optimal predictor, which averages the three concepts that fit the support set. "
                  "Mode coverage: the fraction of those three concepts that at least one adapted particle represents "
                  "(agrees with on 95% of the 256 noise-free examples).", "",
                  "| run | minutes | accuracy | optimum | NLL | optimum | ECE (15 bins) | mode coverage |",
                  "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for record in classification:
            r = record["report"]
            lines.append(f"| {record['name']} | {record['minutes']:.1f} | {r['accuracy']:.3f} | {r['optimum_accuracy']:.3f} | "
                         f"{r['nll']:.3f} | {r['optimum_nll']:.3f} | {r['ece']:.3f} | {r['mode_coverage']:.3f} |")
        lines.append("")
    lines += ["## Runs", ""]
    for record in records:
        lines += run_description(record)
        if record.get("retest_command"):
            lines.append(f"  Tested again with the evaluation of today: `{record['retest_command']}`.")
    lines += ["", "Plots of each run: `docs/benchmarks/hw3/<run>_predictive.png` (bands and sampled functions, with the "
              "optimum's 90% band dashed), `_active_learning.png`, `_reliability.png`, `_nll.png`.", ""]
    (ROOT / "docs" / "benchmarks" / "hw3.md").write_text("\n".join(lines))
    print("\n".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    one = sub.add_parser("run", help="train and test one configuration (flags after -- go to hw3/main.py)")
    one.add_argument("name")
    one.add_argument("--threads", type=int, default=1)
    one.add_argument("--keep", type=Path, default=None, help="copy the final checkpoint here, named as the grader expects")
    one.add_argument("--note", default="", help="what else the machine was doing")
    again = sub.add_parser("retest", help="test a run's kept checkpoint again (after a change to the evaluation)")
    again.add_argument("name")
    again.add_argument("checkpoint", type=Path)
    again.add_argument("--threads", type=int, default=1)
    sub.add_parser("report", help="write docs/benchmarks/hw3.md from the runs so far")
    own, main_flags = split_main_flags(sys.argv[1:])
    args = parser.parse_args(own)
    if args.command == "run":
        run(args.name, args.threads, main_flags, args.keep, args.note)
    elif args.command == "retest":
        retest(args.name, args.checkpoint, args.threads)
    else:
        report()


if __name__ == "__main__":
    main()
