"""N-way K-shot episodes from the in-memory Omniglot, by tensor indexing.

An episode draws ``num_way`` distinct classes of one split and ``num_support +
num_query`` distinct drawings of each. A batch of episodes is one gather from
the uint8 array, so sampling costs microseconds per image and never touches a
PNG file.

    sampler = EpisodeSampler(load_omniglot(), character_split("train"), num_way=5,
                             num_support=1, num_query=15, seed=0)
    batch = sampler.sample(batch_size=16)   # a TaskBatch (data/tasks.py)
    batch.x_support                         # float [16, 5 * 1, 1, 28, 28], classes 0..4 in order
    batch.x_query                           # float [16, 5 * 15, 1, 28, 28], shuffled
    batch.classes                           # int64 [16, 5]: the split's class behind each label

hw1's black-box learners read a task as one sequence instead: ``as_sequences``
lays a batch out that way.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from data.omniglot import Omniglot
from data.splits import Split
from data.tasks import TaskBatch


@dataclass(frozen=True)
class EpisodeBatch(TaskBatch):
    """B episodes (a TaskBatch: the tasks' images and their labels 0..N-1) and which class each label stands for.

    classes: int64 [B, N]: label n of episode b is class ``classes[b, n]`` of the split (0..num_classes-1).
    Meta-learners ignore it; a learner that pre-trains a classifier of all the split's classes reads it.
    """

    classes: torch.Tensor


class EpisodeSampler:
    """Seeded sampler of image episodes from one split; its generator is the only source of randomness.

    ``sample`` returns a ``TaskBatch`` of float32 images in [0, 1] (ink = 1), [1, 28, 28] each, and int64
    labels in 0..num_way-1; which character gets which label is random in every episode.
    """

    def __init__(self, omniglot: Omniglot, split: Split, num_way: int, num_support: int, num_query: int,
                 seed: int = 0, device: str | torch.device = "cpu"):
        drawings_per_class = num_support + num_query
        if num_way > split.num_classes:
            raise ValueError(f"num_way={num_way} exceeds the {split.num_classes} classes of split {split.name!r}")
        if drawings_per_class > omniglot.images.shape[1]:
            raise ValueError(
                f"num_support + num_query = {drawings_per_class} exceeds the "
                f"{omniglot.images.shape[1]} drawings of each Omniglot character"
            )
        if min(num_way, num_support) < 1 or num_query < 0:
            raise ValueError("num_way and num_support must be at least 1, num_query at least 0")
        self.num_way, self.num_support, self.num_query = num_way, num_support, num_query
        self.num_rotations = split.num_rotations
        self.num_classes = split.num_classes
        self.device = torch.device(device)
        self.images = torch.from_numpy(omniglot.images[split.characters]).to(self.device)  # uint8 [C, 20, 28, 28]
        self.generator = torch.Generator().manual_seed(seed)

    def sample_classes(self, batch_size: int) -> torch.Tensor:
        """Distinct classes for each episode: int64 [B, num_way]."""
        scores = torch.rand(batch_size, self.num_classes, generator=self.generator)
        return scores.topk(self.num_way, dim=1).indices

    def sample(self, batch_size: int) -> EpisodeBatch:
        """B episodes: x_support [B, N*K, 1, 28, 28] with y_support int64 [B, N*K] in class order (0..0, 1..1, ...),
        x_query [B, N*Q, 1, 28, 28] with y_query int64 [B, N*Q], shuffled in each episode, and their classes [B, N]."""
        classes = self.sample_classes(batch_size)
        tasks = split_support_query(self.images_of(classes), self.num_support, self.generator)
        return EpisodeBatch(**tasks.tensors(), classes=classes.to(self.device))

    def sample_images(self, batch_size: int) -> torch.Tensor:
        """B episodes as one array: float32 [B, num_way, num_support + num_query, 1, 28, 28], where
        ``images[b, n]`` are the drawings of class n."""
        return self.images_of(self.sample_classes(batch_size))

    def images_of(self, classes: torch.Tensor) -> torch.Tensor:
        """Distinct drawings of the given classes ([B, N]): float32 [B, N, num_support + num_query, 1, 28, 28]."""
        batch_size = len(classes)
        drawings_per_class = self.num_support + self.num_query
        num_drawings = self.images.shape[1]
        drawings = torch.rand(batch_size, self.num_way, num_drawings, generator=self.generator)
        drawings = drawings.topk(drawings_per_class, dim=2).indices  # distinct drawings per class
        characters = (classes // self.num_rotations).to(self.device)
        images = self.images[characters.unsqueeze(-1), drawings.to(self.device)]  # uint8 [B, N, S, 28, 28]
        if self.num_rotations > 1:
            images = rotate_by_class(images, (classes % self.num_rotations).to(self.device))
        return images.unsqueeze(3).float().div_(255)


def rotate_by_class(images: torch.Tensor, quarter_turns: torch.Tensor) -> torch.Tensor:
    """Rotate ``images[b, n]`` ([B, N, S, H, W]) by ``90 * quarter_turns[b, n]`` degrees."""
    rotated = images.clone()
    for turns in range(1, 4):
        chosen = quarter_turns == turns
        if chosen.any():
            rotated[chosen] = torch.rot90(images[chosen], turns, dims=(-2, -1))
    return rotated


def split_support_query(images: torch.Tensor, num_support: int, generator: torch.Generator) -> TaskBatch:
    """A batch of episodes as support and query sets.

    Args:
        images: [B, N, K + Q, C, H, W], the drawings of class n at [:, n] (``EpisodeSampler.sample_images``).
        num_support: K.
        generator: draws the order of each episode's query set.

    Returns:
        x_support [B, N*K, C, H, W], y_support int64 [B, N*K] (class order: 0..0, 1..1, ...),
        x_query [B, N*Q, C, H, W], y_query int64 [B, N*Q] (shuffled in each episode).
    """
    batch, num_way, per_class = images.shape[:3]
    num_query = per_class - num_support
    labels = torch.arange(num_way, device=images.device).repeat_interleave(per_class).view(num_way, per_class)
    labels = labels.expand(batch, num_way, per_class)
    support = images[:, :, :num_support].flatten(1, 2)
    support_labels = labels[:, :, :num_support].flatten(1, 2)
    query = images[:, :, num_support:].flatten(1, 2)
    query_labels = labels[:, :, num_support:].flatten(1, 2)
    order = torch.rand(batch, num_way * num_query, generator=generator).argsort(dim=1).to(images.device)
    query = query[torch.arange(batch, device=images.device).unsqueeze(1), order]
    query_labels = query_labels.gather(1, order)
    return TaskBatch(support, support_labels, query, query_labels)


def as_sequences(batch: TaskBatch) -> tuple[torch.Tensor, torch.Tensor]:
    """hw1's layout of a batch of episodes with one query image per class: each task as K + 1 rows of N images.

    Args:
        batch: x_support [B, N*K, 1, 28, 28] with y_support in class order (as ``EpisodeSampler.sample``
            returns it), x_query [B, N, 1, 28, 28] with y_query a permutation of 0..N-1 in each task.

    Returns:
        images float [B, K + 1, N, 784]: row k < K holds drawing k of classes 0..N-1; row K the query images.
        labels float one-hot [B, K + 1, N, N], the matching classes (the query row keeps its shuffled order).
    """
    batch_size, num_way = batch.x_query.shape[:2]
    if batch.x_support.shape[1] % num_way or not torch.equal(batch.y_query.sort(1).values,
                                                              torch.arange(num_way, device=batch.y_query.device).expand(batch_size, -1)):
        raise ValueError("as_sequences needs one query image per class (num_query=1)")
    num_support = batch.x_support.shape[1] // num_way
    support = batch.x_support.flatten(2).view(batch_size, num_way, num_support, -1).transpose(1, 2)  # [B, K, N, 784]
    images = torch.cat([support, batch.x_query.flatten(2).unsqueeze(1)], dim=1)
    support_labels = batch.y_support.view(batch_size, num_way, num_support).transpose(1, 2)        # [B, K, N]
    labels = torch.cat([support_labels, batch.y_query.unsqueeze(1)], dim=1)
    return images, torch.nn.functional.one_hot(labels, num_way).float()
