"""Episodes for black-box meta-learning: N-way K-shot tasks as one sequence of labelled images.

A task shows the learner K labelled drawings of each of N characters (the
support set), then one more unlabelled drawing of each (the query set), which
it must classify. The labels 0..N-1 are assigned to characters afresh in every
task, so the only way to do well is to learn from the support set.

Layout of a batch of B tasks (S = K + 1 rows, the last one is the query):

    images  float32 [B, S, N, 784]   images[b, s, n] is drawing s of the n-th character, flattened, ink = 1
    labels  float32 [B, S, N, N]     one-hot; the support rows are in class order (labels[b, s, n] = e_n),
                                     the query row is shuffled, so position says nothing about the class
"""
from __future__ import annotations

import torch

from data.omniglot import Omniglot, load_omniglot
from data.splits import character_split


def sample_episodes(characters: torch.Tensor, num_classes: int, num_samples_per_class: int, batch_size: int,
                    generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample a batch of tasks from ``characters``.

    Args:
        characters: uint8 [C, D, 28, 28], the D drawings of each of the C characters
            of one split (ink = 255).
        num_classes: N, the number of characters in a task.
        num_samples_per_class: S = K + 1, drawings per character (K support + 1 query).
        batch_size: B.
        generator: the only source of randomness, so that batches are reproducible.

    Returns:
        images float32 [B, S, N, 784] in [0, 1], labels float32 [B, S, N, N] (see the module docstring).
    """
    # BEGIN SOLUTION
    # 1. For each task pick N distinct characters and S distinct drawings of each
    #    (draw with ``generator``: e.g. torch.rand(..., generator=generator) and argsort).
    # 2. Gather them into [B, S, N, 784] floats in [0, 1], support rows in class order.
    # 3. Labels: one-hot of the class order, [B, S, N, N]; then shuffle the query row
    #    (images and labels together) with its own permutation in every task.
    num_characters, num_drawings = characters.shape[:2]
    chosen = torch.rand(batch_size, num_characters, generator=generator).argsort(dim=1)[:, :num_classes]
    drawings = torch.rand(batch_size, num_classes, num_drawings, generator=generator).argsort(dim=2)
    drawings = drawings[:, :, :num_samples_per_class]
    images = characters[chosen.unsqueeze(-1), drawings]  # [B, N, S, 28, 28]
    images = images.transpose(1, 2).reshape(batch_size, num_samples_per_class, num_classes, -1).float() / 255
    labels = torch.eye(num_classes).expand(batch_size, num_samples_per_class, num_classes, num_classes).clone()
    order = torch.rand(batch_size, num_classes, generator=generator).argsort(dim=1)
    tasks = torch.arange(batch_size).unsqueeze(1)
    images[:, -1] = images[tasks, -1, order]
    labels[:, -1] = labels[tasks, -1, order]
    return images, labels
    # END SOLUTION


class DataGenerator:
    """Batches of tasks from one split of Omniglot (CS330's character split by default).

    ``DataGenerator(num_classes=5, num_samples_per_class=2, split="train").sample_batch(16)``
    returns images [16, 2, 5, 784] and labels [16, 2, 5, 5]. The splits share no
    character, so test tasks are made of characters never seen in training.
    """

    def __init__(self, num_classes: int, num_samples_per_class: int, split: str = "train", protocol: str = "cs330",
                 seed: int = 0, omniglot: Omniglot | None = None):
        omniglot = omniglot if omniglot is not None else load_omniglot()
        self.characters = torch.from_numpy(omniglot.images[character_split(split, protocol).characters])
        self.num_classes = num_classes
        self.num_samples_per_class = num_samples_per_class
        self.generator = torch.Generator().manual_seed(seed)

    def sample_batch(self, batch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        return sample_episodes(self.characters, self.num_classes, self.num_samples_per_class, batch_size,
                               self.generator)
