"""The networks of hw3 (provided): plain MLPs, and one MLP evaluated with many parameter vectors at once.

``BatchedMLP`` is what makes ensembles and SVGD fast on a CPU: each of P
particles is a network (or a network's head), stored as one flat parameter
vector, and the particles of B tasks run as a handful of batched matrix
products instead of B * P small networks.

``SharedFeatureHeads`` puts the particles on a linear head over features that
every particle shares and that are meta-learned, not adapted (as ANIL adapts
the head alone; Raghu et al. 2020): a particle then has a few dozen parameters
instead of thousands, its inner steps are a well-posed linear regression, and
the kernel of SVGD compares particles in a space where distances mean something.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn


def mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers of the given widths with ReLUs between them (none after the last)."""
    layers = []
    for index, (width_in, width_out) in enumerate(zip(sizes, sizes[1:])):
        layers.append(nn.Linear(width_in, width_out))
        if index < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


MIN_SD = 0.05  # keeps a predicted standard deviation, and so the likelihood, finite


def gaussian_head(output: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and variance from a network's two output channels [..., 2]: the sd is MIN_SD + softplus(raw)."""
    mean, raw = output.unbind(-1)
    return mean, (MIN_SD + F.softplus(raw)).square()


class BatchedMLP(nn.Module):
    """An MLP with sizes ``[in, hidden..., out]`` whose parameters are flat vectors.

    Layer l has a weight [in_l, out_l] and a bias [out_l], packed in that order into
    one vector of ``num_parameters`` entries per particle.
    """

    def __init__(self, sizes: list[int]):
        super().__init__()
        self.sizes = sizes
        self.shapes = [((a, b), (b,)) for a, b in zip(sizes, sizes[1:])]
        self.num_parameters = sum(a * b + b for a, b in zip(sizes, sizes[1:]))

    def initial(self, num_particles: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Independent initialisations [P, D], as nn.Linear's default (uniform, bound 1 / sqrt(fan_in))."""
        parts = []
        for (fan_in, fan_out), _ in self.shapes:
            bound = 1 / math.sqrt(fan_in)
            parts.append((torch.rand(num_particles, fan_in * fan_out + fan_out, generator=generator) * 2 - 1) * bound)
        return torch.cat(parts, dim=1)

    def forward(self, particles: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Outputs of every particle on its task's inputs: particles [B, P, D], x [B, M, in] -> [B, P, M, out]."""
        hidden = x.unsqueeze(1)  # [B, 1, M, in]: every particle of a task sees the same inputs
        offset = 0
        for index, ((fan_in, fan_out), _) in enumerate(self.shapes):
            weight = particles[..., offset:offset + fan_in * fan_out].unflatten(-1, (fan_in, fan_out))
            offset += fan_in * fan_out
            bias = particles[..., offset:offset + fan_out]
            offset += fan_out
            hidden = hidden @ weight + bias.unsqueeze(-2)  # [B, P, M, out_l]
            if index < len(self.shapes) - 1:
                hidden = torch.relu(hidden)
        return hidden


class SharedFeatureHeads(nn.Module):
    """Particles of a linear head on meta-learned features: x -> features(x) [width] -> one output per particle.

    The features are two linear layers of ``width`` units with a ReLU between, layer-normalised so that their
    scale, and with it a good inner step size, stays the same throughout meta-training. Same interface as
    ``BatchedMLP``: ``num_parameters`` (width + 1 per particle), ``initial`` and a call on [B, P, D] particles.
    """

    def __init__(self, input_dim: int, width: int):
        super().__init__()
        self.features = nn.Sequential(mlp([input_dim, width, width]), nn.LayerNorm(width))
        self.head = BatchedMLP([width, 1])
        self.num_parameters = self.head.num_parameters

    def initial(self, num_particles: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """Independent initial heads [P, width + 1]."""
        return self.head.initial(num_particles, generator)

    def forward(self, particles: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """particles [B, P, width + 1], x [B, M, in] -> [B, P, M, 1]."""
        return self.head(particles, self.features(x))
