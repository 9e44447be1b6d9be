"""Meta-train and evaluate hw1's black-box learners on Omniglot.

    python -m hw1.main --num_classes 2 --num_shot 1                      # MANN, 2-way 1-shot
    python -m hw1.main --model extension --num_classes 5 --num_shot 1    # your stronger learner

Every ``--eval_freq`` steps it measures the query accuracy on a batch of
training tasks and of test tasks (characters never seen in training), writes
``runs/hw1/<name>/log.csv`` and redraws ``runs/hw1/<name>/accuracy.png``. At the
end it measures the test accuracy on ``--num_test_tasks`` tasks and saves the
checkpoint to ``hw1/checkpoints/<name>.pt`` (``--checkpoint_dir``), the file to submit.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path


import torch
from torch import nn
from tqdm import trange

from common.checkpoints import save_checkpoint
from common.training import CsvLog, add_run_arguments, configure_device, plot_curves, seed_everything
from data.omniglot import OmniglotError
from hw1.episodes import DataGenerator
from hw1.mann import query_loss
from hw1.models import build_model

CHECKPOINTS = Path("hw1/checkpoints")  # relative to the kit's folder, where the commands run


def query_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of query images classified correctly; logits and labels [B, K+1, N, N]."""
    return (logits[:, -1].argmax(-1) == labels[:, -1].argmax(-1)).float().mean().item()


@torch.no_grad()
def evaluate(model: nn.Module, tasks: DataGenerator, num_tasks: int, batch_size: int, device) -> tuple[float, float]:
    """Mean query loss and accuracy over ``num_tasks`` tasks."""
    model.eval()
    losses, accuracies = [], []
    for start in range(0, num_tasks, batch_size):
        images, labels = (t.to(device) for t in tasks.sample_batch(min(batch_size, num_tasks - start)))
        logits = model(images, labels)
        losses.append(query_loss(logits, labels).item())
        accuracies.append(query_accuracy(logits, labels))
    model.train()
    return sum(losses) / len(losses), sum(accuracies) / len(accuracies)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=["mann", "extension"], default="mann")
    # The kit's names for N and K are --num_way and --num_support (as in hw2 and hw3); CS330's work too.
    parser.add_argument("--num_way", "--num_classes", dest="num_way", type=int, default=2, help="N, classes per task")
    parser.add_argument("--num_support", "--num_shot", dest="num_support", type=int, default=1,
                        help="K, support drawings per class")
    parser.add_argument("--meta_batch_size", type=int, default=128, help="tasks per step")
    parser.add_argument("--hidden_dim", type=int, default=128, help="MANN's LSTM width")
    parser.add_argument("--learning_rate", type=float, default=1e-3)
    parser.add_argument("--meta_train_steps", type=int, default=25_000)
    parser.add_argument("--eval_freq", type=int, default=250)
    parser.add_argument("--num_test_tasks", type=int, default=2000, help="tasks of the final test")
    add_run_arguments(parser, "hw1", CHECKPOINTS, "mann_K1_N2 and so on", seed=123)
    return parser.parse_args(argv)


def main(argv=None) -> float:
    args = parse_args(argv)
    seed_everything(args.random_seed)
    device = configure_device(args)
    name = args.name or f"{args.model}_K{args.num_support}_N{args.num_way}"
    samples = args.num_support + 1
    train_tasks = DataGenerator(args.num_way, samples, "train", seed=args.random_seed)
    test_tasks = DataGenerator(args.num_way, samples, "test", seed=args.random_seed + 1)
    config = {"num_classes": args.num_way, "samples_per_class": samples}
    if args.model == "mann":
        config["hidden_dim"] = args.hidden_dim
    model = build_model(args.model, config).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate)
    log = CsvLog(args.runs_dir / name / "log.csv")
    print(f"{name}: {sum(p.numel() for p in model.parameters()):,} parameters on {device}")

    start = time.perf_counter()
    progress = trange(1, args.meta_train_steps + 1, desc=name, unit="step")
    for step in progress:
        images, labels = (t.to(device) for t in train_tasks.sample_batch(args.meta_batch_size))
        logits = model(images, labels)
        loss = query_loss(logits, labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % args.eval_freq == 0 or step == args.meta_train_steps:
            test_loss, test_accuracy = evaluate(model, test_tasks, args.meta_batch_size, args.meta_batch_size, device)
            log.write(step=step, seconds=round(time.perf_counter() - start, 1), train_loss=loss.item(),
                      train_accuracy=query_accuracy(logits, labels), test_loss=test_loss, test_accuracy=test_accuracy)
            progress.set_postfix(loss=f"{loss.item():.3f}", test_acc=f"{test_accuracy:.3f}")
            plot_curves(log.path.with_name("accuracy.png"), log.column("step"),
                        {"train": log.column("train_accuracy"), "test": log.column("test_accuracy")},
                        "meta-training step", "query accuracy", f"{name}: {args.num_way}-way {args.num_support}-shot")
    train_seconds = time.perf_counter() - start

    final_tasks = DataGenerator(args.num_way, samples, "test", seed=10_000 + args.random_seed)
    _, accuracy = evaluate(model, final_tasks, args.num_test_tasks, 500, device)
    path = args.checkpoint_dir / f"{name}.pt"
    save_checkpoint(path, args.model, config, model, {"num_way": args.num_way, "num_support": args.num_support},
                    test_accuracy=accuracy, train_seconds=train_seconds, args={k: str(v) for k, v in vars(args).items()})
    print(f"{name}: test accuracy {accuracy:.4f} on {args.num_test_tasks} tasks after {train_seconds / 60:.1f} min; "
          f"checkpoint {path}")
    return accuracy


if __name__ == "__main__":
    try:
        main()
    except OmniglotError as error:  # no data yet: say which command prepares it
        sys.exit(f"error: {error}")
