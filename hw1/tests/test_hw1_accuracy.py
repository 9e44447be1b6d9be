"""Accuracy of your trained checkpoints, measured on test tasks that the tests sample themselves.

Train with ``python -m hw1.main`` (see the handout); it writes the checkpoints
to ``hw1/checkpoints/``. The model sees the test tasks with the query labels
replaced by zeros; the labels stay on this side. The tasks come from the grading's secret
seed. A MANN checkpoint is run with the reference's code on the grader (a checkpoint is
weights, not a program); the extension's architecture is yours, so your code runs it.
"""
from pathlib import Path

import pytest
import torch
from gradescope_utils.autograder_utils.decorators import number, weight

import hw1_probes
from common.checkpoints import KEYS as CHECKPOINT_KEYS
from harness.plugin import checked_config, load_submitted_checkpoint, received
from data.episodes import EpisodeSampler, as_sequences
from data.omniglot import load_omniglot
from data.splits import character_split

NUM_TASKS = 1000
# Thresholds: the reference's accuracy (docs/benchmarks/hw1.md) less a margin; CS330 students reached 91-94% at 2-way.
MANN_THRESHOLD = 0.88
EXTENSION_THRESHOLD = 0.85


def grader_tasks(num_classes: int, num_shot: int, seed: int):
    """Test tasks in the homework's layout: (images, labels with zeroed query row, query targets [B, N])."""
    sampler = EpisodeSampler(load_omniglot(), character_split("test"), num_classes, num_shot, 1, seed=seed)
    images, labels = as_sequences(sampler.sample(NUM_TASKS))  # [B, K+1, N, 784], [B, K+1, N, N]
    targets = labels[:, -1].argmax(-1)  # the class of each query position
    labels[:, -1] = 0
    return images, labels, targets


CONFIGS = {"mann": {"num_classes": {2, 5}, "samples_per_class": {2, 3, 6}, "hidden_dim": (int, 1, 512)},
           "extension": None}  # the extension's architecture is the student's own


def assert_checkpoint_accuracy(runner, impl_root: Path, name: str, num_classes: int, num_shot: int, seed: int,
                               threshold: float) -> None:
    """Load the checkpoint here, let ``runner`` classify the grader's tasks with it, score it here."""
    checkpoint = load_submitted_checkpoint(impl_root, "hw1", name, list(CHECKPOINT_KEYS))
    assert checkpoint["kind"] in CONFIGS, f"{name}: unknown model {checkpoint['kind']!r}"
    config = checkpoint["config"]
    if CONFIGS[checkpoint["kind"]] is not None:
        checked_config(config, CONFIGS[checkpoint["kind"]], name)
    assert isinstance(config, dict) and (config.get("num_classes"), config.get("samples_per_class")) == (num_classes, num_shot + 1), \
        f"{name} was trained for {config.get('num_classes')}-way with {config.get('samples_per_class')} samples per class"
    images, labels, targets = grader_tasks(num_classes, num_shot, seed)
    pixels = (images * 255).round().to(torch.uint8)  # exact: the sampler's images are k / 255
    logits = received(runner.call(hw1_probes.checkpoint_logits, checkpoint, pixels, labels, timeout=240),
                      shape=(NUM_TASKS, num_classes, num_classes), name="the query logits", bound=1e30)
    accuracy = (logits.argmax(-1) == targets).double().mean().item()
    print(f"test accuracy {accuracy:.3f} on {NUM_TASKS} tasks (threshold {threshold})")
    assert accuracy >= threshold, (
        f"test accuracy {accuracy:.3f} is below {threshold}: train as the handout's Train section says (its "
        f"command, its number of steps), check in runs/hw1/<name>/accuracy.png that the test accuracy rose, "
        f"and that the query row's labels are hidden and shuffled")


@weight(4)
@number("3.1")
def test_mann_2way_1shot_accuracy(evaluator, impl_root, grader_seed):
    """mann_K1_N2.pt: 2-way 1-shot test accuracy"""
    assert_checkpoint_accuracy(evaluator, impl_root, "mann_K1_N2.pt", 2, 1, grader_seed, MANN_THRESHOLD)


@pytest.mark.part("extension")
@weight(1)
@number("4.1")
def test_extension_hides_query_labels(impl):
    """going further: BlackBoxLearner returns [B, K+1, N, N] and ignores the query labels, at 1 and 2 shots
    (and with an encoder width other than the default)"""
    honest = received(impl.call(hw1_probes.extension_outputs, seed=0), shape=(4, 2, 5, 5), name="the logits")
    leaked = received(impl.call(hw1_probes.extension_outputs, seed=0, query_labels=torch.full((4, 5, 5), 3.0)),
                      shape=(4, 2, 5, 5), name="the logits")
    torch.testing.assert_close(leaked, honest, msg="changing the query labels changed the logits")
    two_shot = received(impl.call(hw1_probes.extension_outputs, seed=1, num_shot=2, width=63), shape=(4, 3, 5, 5),
                        name="the logits")
    leaked = received(impl.call(hw1_probes.extension_outputs, seed=1, num_shot=2, width=63,
                                query_labels=torch.full((4, 5, 5), 3.0)),
                      shape=(4, 3, 5, 5), name="the logits")
    torch.testing.assert_close(leaked, two_shot, msg="with 2 shots, changing the query labels changed the logits")


@pytest.mark.part("extension")
@weight(3)
@number("4.2")
def test_extension_5way_1shot_accuracy(impl, impl_root, grader_seed):
    """going further: extension_K1_N5.pt, 5-way 1-shot test accuracy"""
    assert_checkpoint_accuracy(impl, impl_root, "extension_K1_N5.pt", 5, 1, grader_seed, EXTENSION_THRESHOLD)
