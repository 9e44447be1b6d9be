"""Meta-train and test MAML, prototypical networks and their going-further variants on Omniglot.

    python -m hw2.main --method protonet                                   # 5-way 1-shot
    python -m hw2.main --method maml --num_inner_steps 1 --inner_lr 0.4
    python -m hw2.main --method maml --learn_inner_lrs                     # meta-learn the inner rates too
    python -m hw2.main --method mamlpp --num_inner_steps 2 --lr_schedule cosine  # going further: MAML++
    python -m hw2.main --method anil                                       # going further: head-only MAML
    python -m hw2.main --method ridge --train_way 20                       # going further: R2-D2's ridge head
    python -m hw2.main --method reptile --num_inner_steps 3 --inner_lr 0.4 # going further: Reptile
    python -m hw2.main --method cavia --num_inner_steps 2 --inner_lr 1.0   # going further: CAVIA
    python -m hw2.main --method finetune --train_way 64                   # going further: the fine-tuning baseline
    python -m hw2.main --method protonet --test                            # 600 test tasks, 95% interval

Every ``--log_interval`` steps it appends the training loss and accuracies to
``runs/hw2/<name>/log.csv``; every ``--val_interval`` steps it measures the
accuracy on validation tasks and redraws ``runs/hw2/<name>/accuracy.png``.
The ``seconds`` column counts training time only. At the end it tests on
``--num_test_tasks`` tasks of the test characters and saves
``hw2/checkpoints/<name>.pt``, the file to submit. ``--save_interval`` also
keeps ``runs/hw2/<name>/step<N>.pt`` along the way, which ``--test
--checkpoint_step N`` evaluates.
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path


import torch
from torch import nn
from tqdm import trange

from common.checkpoints import load_checkpoint, save_checkpoint
from common.evaluation import mean_and_interval
from common.training import CsvLog, add_run_arguments, configure_device, plot_curves, seed_everything
from data.episodes import EpisodeSampler
from data.omniglot import OmniglotError, load_omniglot
from data.splits import PROTOCOLS, character_split
from hw2.models import KINDS, build_model

CHECKPOINTS = Path("hw2/checkpoints")  # relative to the kit's folder, where the commands run


def task_sampler(split: str, protocol: str, num_way: int, num_support: int, num_query: int,
                 seed: int) -> EpisodeSampler:
    """Seeded N-way K-shot tasks of one split of Omniglot, as TaskBatches (data/tasks.py)."""
    return EpisodeSampler(load_omniglot(), character_split(split, protocol), num_way, num_support, num_query, seed)


def evaluate(learner: nn.Module, tasks: EpisodeSampler, num_tasks: int, device: torch.device) -> list[float]:
    """Query accuracy of each of ``num_tasks`` tasks, after the learner adapts to its support set."""
    learner.eval()
    accuracies = []
    for start in range(0, num_tasks, 25):
        batch = tasks.sample(min(25, num_tasks - start)).to(device)
        logits = learner.predict(batch.x_support, batch.y_support, batch.x_query)  # [B, M, N]
        accuracies += (logits.argmax(-1) == batch.y_query).float().mean(1).tolist()
    learner.train()
    return accuracies


def save_run(path: Path, args: argparse.Namespace, config: dict, learner: nn.Module, step: int,
             train_seconds: float, **measured) -> None:
    """The learner's checkpoint (common/checkpoints.py), with the tasks it was trained for and how long it took."""
    save_checkpoint(path, args.method, config, learner,
                    {"num_way": args.num_way, "num_support": args.num_support, "protocol": args.protocol},
                    step=step, train_seconds=train_seconds, args={k: str(v) for k, v in vars(args).items()}, **measured)


def load_learner(path: Path, device: torch.device) -> tuple[dict, nn.Module]:
    """The checkpoint at ``path`` and its learner, on ``device``."""
    checkpoint = load_checkpoint(path)
    learner = build_model(checkpoint["kind"], checkpoint["config"])
    learner.load_state_dict(checkpoint["state_dict"])
    return checkpoint, learner.to(device)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--method", choices=KINDS, required=True)
    parser.add_argument("--num_way", type=int, default=5, help="N, classes per task")
    parser.add_argument("--num_support", type=int, default=1, help="K, support images per class")
    parser.add_argument("--num_query", type=int, default=15, help="query images per class")
    parser.add_argument("--train_way", type=int, default=None,
                        help="classes per training task (default: --num_way; prototypical networks gain from more)")
    parser.add_argument("--num_inner_steps", type=int, default=1, help="MAML, MAML++, ANIL, Reptile, CAVIA: inner gradient steps")
    parser.add_argument("--inner_lr", type=float, default=0.4, help="MAML, MAML++, ANIL, Reptile, CAVIA: inner learning rate (MAML++: the initial one)")
    parser.add_argument("--learn_inner_lrs", action="store_true",
                        help="MAML, ANIL, CAVIA: meta-learn one inner rate per tensor")
    parser.add_argument("--first_order", action="store_true", help="MAML, MAML++, ANIL, CAVIA: drop the second-order terms")
    parser.add_argument("--anneal_steps", type=int, default=2000,
                        help="MAML++: outer steps over which the multi-step loss moves its weight to the last step")
    parser.add_argument("--context_dim", type=int, default=100, help="CAVIA: size of the context vector")
    parser.add_argument("--finetune_steps", type=int, default=100,
                        help="finetune: gradient steps of each test task's new head")
    parser.add_argument("--finetune_step_size", type=float, default=0.03,
                        help="finetune: their size (0.03 was best of 0.003 to 1 on validation tasks)")
    parser.add_argument("--outer_lr", "--learning_rate", type=float, default=1e-3, help="Adam's learning rate")
    parser.add_argument("--lr_schedule", choices=["constant", "cosine"], default="constant",
                        help="cosine: decay the learning rate to zero over the training run")
    parser.add_argument("--batch_size", type=int, default=16, help="tasks per outer step")
    parser.add_argument("--num_train_iterations", type=int, default=15_000, help="outer steps")
    parser.add_argument("--time_limit", type=float, default=None, help="stop after this many minutes of training")
    parser.add_argument("--protocol", choices=PROTOCOLS, default="cs330",
                        help="cs330: CS330's character split; published: rotations as classes, as in the papers")
    parser.add_argument("--log_interval", type=int, default=10)
    parser.add_argument("--val_interval", type=int, default=250)
    parser.add_argument("--num_val_tasks", type=int, default=100)
    parser.add_argument("--save_interval", type=int, default=0, help="also keep runs/.../step<N>.pt (0: never)")
    parser.add_argument("--test", action="store_true", help="test a checkpoint instead of training")
    parser.add_argument("--checkpoint_step", type=int, default=-1,
                        help="with --test: the step<N>.pt to test (-1: the final checkpoint)")
    parser.add_argument("--num_test_tasks", type=int, default=600)
    add_run_arguments(parser, "hw2", CHECKPOINTS, "protonet_K1_N5 and so on")
    args = parser.parse_args(argv)
    args.name = args.name or f"{args.method}_K{args.num_support}_N{args.num_way}"
    return args


def test(args: argparse.Namespace, device: torch.device) -> float:
    """Accuracy of a saved checkpoint on ``--num_test_tasks`` test tasks, with its 95% interval."""
    path = (args.checkpoint_dir / f"{args.name}.pt" if args.checkpoint_step < 0
            else args.runs_dir / args.name / f"step{args.checkpoint_step}.pt")
    checkpoint, learner = load_learner(path, device)
    task, metadata = checkpoint["task"], checkpoint["metadata"]
    tasks = task_sampler("test", task["protocol"], task["num_way"], task["num_support"], args.num_query,
                         seed=10_000 + args.random_seed)
    mean, interval = mean_and_interval(evaluate(learner, tasks, args.num_test_tasks, device))
    print(f"{path}: test accuracy {mean:.4f} +- {interval:.4f} (95% interval, {args.num_test_tasks} tasks, "
          f"step {metadata['step']}, {metadata['train_seconds'] / 60:.1f} min of training)")
    return mean


def model_config(args: argparse.Namespace) -> dict:
    """The constructor options of ``--method``'s learner (hw2/models.py), saved in its checkpoint."""
    if args.method in ("protonet", "ridge"):
        return {}
    if args.method == "finetune":  # pre-trained as a classifier of every class of the training split
        return {"num_classes": character_split("train", args.protocol).num_classes,
                "num_steps": args.finetune_steps, "step_size": args.finetune_step_size}
    if args.train_way not in (None, args.num_way):
        raise SystemExit(f"error: {args.method}'s output layer has num_way classes: --train_way must equal --num_way")
    if args.method == "reptile":
        return {"num_way": args.num_way, "num_inner_steps": args.num_inner_steps, "inner_lr": args.inner_lr}
    if args.method == "mamlpp":  # its inner rates are always learned, per tensor and per step
        return {"num_way": args.num_way, "num_inner_steps": args.num_inner_steps, "inner_lr": args.inner_lr,
                "first_order": args.first_order, "anneal_steps": args.anneal_steps}
    if args.method == "cavia":
        return {"num_way": args.num_way, "context_dim": args.context_dim, "num_inner_steps": args.num_inner_steps,
                "inner_lr": args.inner_lr, "learn_inner_lrs": args.learn_inner_lrs, "first_order": args.first_order}
    return {"num_way": args.num_way, "num_inner_steps": args.num_inner_steps, "inner_lr": args.inner_lr,
            "learn_inner_lrs": args.learn_inner_lrs, "first_order": args.first_order}


def train(args: argparse.Namespace, device: torch.device) -> float:
    config = model_config(args)
    learner = build_model(args.method, config).to(device)
    optimizer = torch.optim.Adam([p for p in learner.parameters() if p.requires_grad], lr=args.outer_lr)
    schedule = (torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 0.5 * (1 + math.cos(math.pi * step / args.num_train_iterations)))
                if args.lr_schedule == "cosine" else None)
    train_tasks = task_sampler("train", args.protocol, args.train_way or args.num_way, args.num_support,
                               args.num_query, seed=args.random_seed)
    val_tasks = task_sampler("val", args.protocol, args.num_way, args.num_support, args.num_query,
                             seed=1_000 + args.random_seed)
    log = CsvLog(args.runs_dir / args.name / "log.csv")
    print(f"{args.name}: {sum(p.numel() for p in learner.parameters()):,} parameters on {device}")

    train_seconds, val_accuracy = 0.0, float("nan")
    progress = trange(1, args.num_train_iterations + 1, desc=args.name, unit="step")
    for step in progress:
        start = time.perf_counter()
        loss, metrics = learner.loss(train_tasks.sample(args.batch_size).to(device))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if schedule is not None:
            schedule.step()
        train_seconds += time.perf_counter() - start
        if step % args.val_interval == 0 or step == args.num_train_iterations:
            val_accuracy = sum(evaluate(learner, val_tasks, args.num_val_tasks, device)) / args.num_val_tasks
        if step % args.log_interval == 0 or step % args.val_interval == 0:
            log.write(step=step, seconds=round(train_seconds, 2), loss=round(loss.item(), 5),
                      **{name: round(value, 4) for name, value in metrics.items()},
                      val_accuracy=round(val_accuracy, 4) if step % args.val_interval == 0 else "")
            progress.set_postfix(loss=f"{loss.item():.3f}", query_acc=f"{metrics['query_accuracy']:.3f}",
                                 val_acc=f"{val_accuracy:.3f}")
        if step % args.val_interval == 0:
            validated = [row for row in log.rows if row["val_accuracy"] != ""]
            plot_curves(log.path.with_name("accuracy.png"), [row["step"] for row in validated],
                        {"validation (query, after adaptation)": [row["val_accuracy"] for row in validated]},
                        "outer step", "accuracy", f"{args.name}: {args.num_way}-way {args.num_support}-shot")
        if args.save_interval and step % args.save_interval == 0:
            save_run(args.runs_dir / args.name / f"step{step}.pt", args, config, learner, step, train_seconds)
        if args.time_limit is not None and train_seconds > 60 * args.time_limit:
            print(f"{args.name}: time limit of {args.time_limit} min reached at step {step}")
            break

    test_tasks = task_sampler("test", args.protocol, args.num_way, args.num_support, args.num_query,
                              seed=10_000 + args.random_seed)
    mean, interval = mean_and_interval(evaluate(learner, test_tasks, args.num_test_tasks, device))
    path = args.checkpoint_dir / f"{args.name}.pt"
    save_run(path, args, config, learner, step, train_seconds, test_accuracy=mean, test_interval=interval)
    print(f"{args.name}: test accuracy {mean:.4f} +- {interval:.4f} on {args.num_test_tasks} tasks "
          f"after {train_seconds / 60:.1f} min of training; checkpoint {path}")
    return mean


def main(argv=None) -> float:
    args = parse_args(argv)
    seed_everything(args.random_seed)
    device = configure_device(args)
    return test(args, device) if args.test else train(args, device)


if __name__ == "__main__":
    try:
        main()
    except OmniglotError as error:  # no data yet: say which command prepares it
        sys.exit(f"error: {error}")
