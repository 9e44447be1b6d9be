"""Accuracy and the 95% confidence interval that the papers report next to it."""
from __future__ import annotations

import math
from collections.abc import Sequence

import torch


def accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Fraction of rows whose largest logit is the label; logits [..., N], labels int64 [...]."""
    return (logits.argmax(-1) == labels).float().mean().item()


def mean_and_interval(values: Sequence[float]) -> tuple[float, float]:
    """Mean of per-task values and the half-width of its 95% confidence interval (1.96 standard errors)."""
    values = torch.as_tensor(values, dtype=torch.float64)
    if len(values) < 2:
        raise ValueError("a confidence interval needs at least two tasks")
    return values.mean().item(), 1.96 * values.std().item() / math.sqrt(len(values))
