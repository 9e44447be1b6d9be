"""N-way K-shot episodes from the in-memory Omniglot, by tensor indexing.

An episode draws ``num_way`` distinct classes of one split and ``num_support +
num_query`` distinct drawings of each. A batch of episodes is one gather from
the uint8 array, so sampling costs microseconds per image and never touches a
PNG file.

    sampler = EpisodeSampler(load_omniglot(), character_split("train"), num_way=5,
                             num_support=1, num_query=15, seed=0)
    images = sampler.sample(batch_size=16)          # float [16, 5, 16, 1, 28, 28]
    support, support_labels, query, query_labels = split_support_query(images, num_support=1, generator=g)
"""
from __future__ import annotations

import torch

from data.omniglot import Omniglot
from data.splits import Split


class EpisodeSampler:
    """Seeded sampler of image episodes from one split.

    ``sample`` returns float32 images in [0, 1] (ink = 1) of shape
    ``[B, num_way, num_support + num_query, 1, 28, 28]``; the class of
    ``images[b, n]`` is ``n``, with classes in random order in every episode.
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

    def sample(self, batch_size: int) -> torch.Tensor:
        """A batch of episodes: float32 [B, num_way, num_support + num_query, 1, 28, 28]."""
        classes = self.sample_classes(batch_size)
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


def split_support_query(images: torch.Tensor, num_support: int, generator: torch.Generator | None = None):
    """Flatten a batch of episodes into support and query sets.

    Args:
        images: [B, N, K + Q, C, H, W] as returned by ``EpisodeSampler.sample``.
        num_support: K.
        generator: seeds the shuffle of the query set.

    Returns:
        support [B, N*K, C, H, W], support_labels int64 [B, N*K] (class order: 0..0, 1..1, ...),
        query [B, N*Q, C, H, W], query_labels int64 [B, N*Q] (shuffled in each episode).
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
    return support, support_labels, query, query_labels
