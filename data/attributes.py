"""Ambiguous binary classification: a small synthetic analogue of ambiguous CelebA.

An example is a "face" with ``NUM_ATTRIBUTES`` binary attributes (smiling, glasses, ...),
seen through noise: its features are ``2 * attributes - 1 + FEATURE_NOISE_SD * N(0, I)``.
A *concept* is a pair of attributes (i, j); an example is positive when it has both.
Every task hides one concept (a, b) and shows K positive and K negative examples:

- every support positive has three attributes a, b and c, and no other attribute is shared
  by all of them; every support negative has at most one of a, b, c.

So the support set fits exactly three concepts, (a, b), (a, c) and (b, c), and no meta-learner
can tell which one is meant (Finn, Xu and Levine 2018 built ambiguous CelebA this way). The
query examples are labelled by the hidden concept (a, b). Half of them are positives of one of
the three consistent concepts, chosen uniformly per example, and half are random: how the
query inputs are drawn says nothing about which concept is hidden. So the Bayes-optimal
prediction is exactly the fraction of the three concepts that call an example positive (0, 1/3,
2/3 or 1), and a good Bayesian meta-learner's sampled hypotheses cover all three.

    tasks = AmbiguousAttributes(seed=0).sample(batch_size=32, num_support=1, num_query=20)
    tasks.consistent   # int64 [32, 3, 2]: the three concepts that fit each support set
"""
from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import torch

from data.tasks import TaskBatch

NUM_ATTRIBUTES = 8
FEATURE_NOISE_SD = 0.2
CONCEPTS = torch.tensor(list(combinations(range(NUM_ATTRIBUTES), 2)))  # [28, 2]


@dataclass(frozen=True)
class ClassificationTaskBatch(TaskBatch):
    """B tasks. Features [B, 2K, A] / [B, M, A], labels float 0/1 [B, 2K, 1] / [B, M, 1]; and the truth."""

    concept: torch.Tensor     # int64 [B, 2]: the hidden concept (a, b)
    consistent: torch.Tensor  # int64 [B, 3, 2]: (a, b), (a, c), (b, c), every concept that fits the support


def concept_labels(attributes: torch.Tensor, concepts: torch.Tensor) -> torch.Tensor:
    """1.0 where an example has both attributes of a concept: attributes [..., N, A], concepts [..., C, 2] -> [..., N, C]."""
    first = attributes.gather(-1, concepts[..., 0].unsqueeze(-2).expand(*attributes.shape[:-1], -1))
    second = attributes.gather(-1, concepts[..., 1].unsqueeze(-2).expand(*attributes.shape[:-1], -1))
    return first * second


def all_attribute_vectors() -> torch.Tensor:
    """The 2^A noise-free attribute vectors, float 0/1 [256, A]: the probe set of mode coverage."""
    codes = torch.arange(2 ** NUM_ATTRIBUTES).unsqueeze(1)
    return ((codes >> torch.arange(NUM_ATTRIBUTES)) & 1).float()


def features(attributes: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
    """What a learner sees of 0/1 attributes: +-1 per attribute, plus the given noise."""
    signs = 2 * attributes - 1
    return signs if noise is None else signs + FEATURE_NOISE_SD * noise


class AmbiguousAttributes:
    """Seeded sampler of ambiguous tasks (see the module's docstring)."""

    def __init__(self, seed: int = 0):
        self.generator = torch.Generator().manual_seed(seed)

    def _bits(self, *shape) -> torch.Tensor:
        return torch.randint(0, 2, shape, generator=self.generator).float()

    def sample(self, batch_size: int, num_support: int = 1, num_query: int = 20) -> ClassificationTaskBatch:
        if batch_size < 1 or num_support < 1 or num_query < 2 or num_query % 2:
            raise ValueError("batch_size and num_support must be positive, num_query a positive even number")
        B, K, M, A = batch_size, num_support, num_query, NUM_ATTRIBUTES
        # three distinct attributes per task: a, b form the hidden concept, c the decoy
        triple = torch.rand(B, A, generator=self.generator).argsort(-1)[:, :3]
        triple_mask = torch.zeros(B, A).scatter_(1, triple, 1.0)
        rows = torch.arange(B).unsqueeze(1)

        positives = self._bits(B, K, A)
        shared = positives.prod(1, keepdim=True) * (1 - triple_mask.unsqueeze(1))  # other attributes all positives have
        positives[:, :1] -= shared[:, 0:1]  # one positive drops each of them
        positives = torch.maximum(positives, triple_mask.unsqueeze(1))

        negatives = self._bits(B, K, A)
        keep = torch.randint(0, 4, (B, K), generator=self.generator)  # which of a, b, c stays (3: none)
        negatives = negatives * (1 - triple_mask.unsqueeze(1))
        kept = triple.gather(1, keep.clamp(max=2))
        negatives[rows, torch.arange(K).unsqueeze(0), kept] = (keep < 3).float() * self._bits(B, K)

        concept = triple[:, :2].sort(-1).values
        consistent = torch.stack([triple[:, [0, 1]], triple[:, [0, 2]], triple[:, [1, 2]]], 1).sort(-1).values
        query = self._bits(B, M, A)
        half = M // 2
        chosen = torch.randint(0, 3, (B, half), generator=self.generator)  # a consistent concept per example
        query[:, :half].scatter_(2, consistent[rows, chosen], 1.0)          # ... made positive for it
        query = query[rows, torch.rand(B, M, generator=self.generator).argsort(-1)]

        support = torch.cat([positives, negatives], 1)
        y_support = torch.cat([torch.ones(B, K, 1), torch.zeros(B, K, 1)], 1)
        y_query = concept_labels(query, concept.unsqueeze(1))
        noise_support = torch.randn(support.shape, generator=self.generator)
        noise_query = torch.randn(query.shape, generator=self.generator)
        return ClassificationTaskBatch(features(support, noise_support), y_support, features(query, noise_query),
                                       y_query, concept, consistent)
