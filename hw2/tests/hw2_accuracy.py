"""How hw2's accuracy tests judge a trained checkpoint, on test tasks that they sample themselves.

The learner sees the support images with their labels and the query images without theirs; the
query labels stay on this side. The tasks come from the grading's secret seed, and on the grader the
learner is the reference's code with your weights.
"""
from pathlib import Path

import torch

import hw2_probes
from common.checkpoints import KEYS as CHECKPOINT_KEYS
from harness.plugin import checked_config, load_submitted_checkpoint, received
from data.episodes import EpisodeSampler
from data.omniglot import load_omniglot
from data.splits import character_split

NUM_TASKS = 150  # enough: every threshold is at least 4 standard errors below its reference (grading_hw2.md)
NUM_QUERY = 5  # per class
# Thresholds: the reference's test accuracy (docs/benchmarks/hw2_time_to_accuracy.md) less a margin.
THRESHOLDS = {"protonet": 0.96, "maml": 0.93, "anil": 0.92, "ridge": 0.96, "reptile": 0.58, "cavia": 0.80,
              "finetune": 0.92, "mamlpp": 0.91}


def grader_tasks(num_way: int, num_support: int, seed: int) -> tuple[torch.Tensor, ...]:
    """Test tasks: support uint8 [B, N*K, 1, 28, 28], support labels, query uint8 [B, N*Q, ...], query labels."""
    sampler = EpisodeSampler(load_omniglot(), character_split("test"), num_way, num_support, NUM_QUERY, seed=seed)
    tasks = sampler.sample(NUM_TASKS)
    return as_pixels(tasks.x_support), tasks.y_support, as_pixels(tasks.x_query), tasks.y_query


def as_pixels(images: torch.Tensor) -> torch.Tensor:
    """uint8 images, a quarter of the bytes through the pipe; exact, since the sampler's images are k / 255."""
    return (images * 255).round().to(torch.uint8)


MAML_CONFIG = {"num_way": {5}, "num_inner_steps": (int, 1, 10), "inner_lr": (float, 0.0, 10.0),
               "learn_inner_lrs": {True, False}, "first_order": {True, False}}
CONFIGS = {"maml": MAML_CONFIG, "protonet": {}, "anil": MAML_CONFIG, "ridge": {},
           "reptile": {"num_way": {5}, "num_inner_steps": (int, 1, 50), "inner_lr": (float, 0.0, 10.0)},
           "cavia": {**MAML_CONFIG, "context_dim": (int, 1, 1000)},
           "mamlpp": {"num_way": {5}, "num_inner_steps": (int, 1, 10), "inner_lr": (float, 0.0, 10.0),
                      "first_order": {True, False}, "anneal_steps": (int, 0, 10_000_000)},
           "finetune": {"num_classes": (int, 2, 5000), "num_steps": (int, 1, 500), "step_size": (float, 0.0, 100.0)}}


def assert_checkpoint_accuracy(evaluator, impl_root: Path, method: str, num_way: int, num_support: int, seed: int) -> None:
    """Load the checkpoint here, let ``evaluator`` (the reference's code, on the grader) classify the grader's
    tasks with its weights, score it here."""
    name = f"{method}_K{num_support}_N{num_way}.pt"
    checkpoint = load_submitted_checkpoint(impl_root, "hw2", name, list(CHECKPOINT_KEYS))
    assert checkpoint["kind"] == method, f"{name} holds a {checkpoint['kind']!r} learner, not {method!r}"
    checked_config(checkpoint["config"], CONFIGS[method], name)
    task = checkpoint["task"] if isinstance(checkpoint["task"], dict) else {}
    trained = (task.get("num_way"), task.get("num_support"))
    assert trained == (num_way, num_support), f"{name} was trained for {trained[0]}-way {trained[1]}-shot"
    support, support_labels, query, query_labels = grader_tasks(num_way, num_support, seed)
    logits = received(evaluator.call(hw2_probes.checkpoint_logits, checkpoint, support, support_labels, query, timeout=240),
                      shape=(NUM_TASKS, num_way * NUM_QUERY, num_way), name="the query logits", bound=1e30)
    accuracy = (logits.argmax(-1) == query_labels).double().mean().item()
    threshold = THRESHOLDS[method]
    print(f"test accuracy {accuracy:.4f} on {NUM_TASKS} tasks (threshold {threshold})")
    assert accuracy >= threshold, (
        f"test accuracy {accuracy:.4f} is below {threshold}: train with the handout's command for {method} "
        f"(its flags and length), and check in runs/hw2/{name[:-3]}/accuracy.png that the accuracy rose; near "
        f"chance (0.2), see the handout's What to expect")


