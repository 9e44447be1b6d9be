"""Active learning: let the model choose where to look next.

A model that knows where it is unsure can ask for the label (here, the y value)
of the input it is most unsure about. With the predictive entropy as the
measure of "unsure", a few well-chosen points teach more than as many random
ones: the curve of MSE against the number of support points falls faster.
"""
from __future__ import annotations

import math

import torch


def gaussian_entropy(variance: torch.Tensor) -> torch.Tensor:
    """The entropy of N(., variance), elementwise: log(2 pi e variance) / 2."""
    return 0.5 * torch.log(2 * math.pi * math.e * variance)


def pick_max_entropy(variance: torch.Tensor, available: torch.Tensor) -> torch.Tensor:
    """The candidate of highest predictive entropy in each task.

    Args:
        variance: [B, C], the predictive variance at each of C candidate inputs (for a Gaussian the
            entropy grows with the variance; for a mixture it is our measure of its spread).
        available: bool [B, C], False for candidates already picked.

    Returns:
        int64 [B]: the index of the picked candidate in each task.
    """
    # BEGIN SOLUTION
    # The entropy of each candidate; candidates no longer available get -inf; the argmax per task.
    entropy = gaussian_entropy(variance).masked_fill(~available, -math.inf)
    return entropy.argmax(-1)
    # END SOLUTION


def active_learning_curve(model, x_pool: torch.Tensor, y_pool: torch.Tensor, x_test: torch.Tensor,
                          y_test: torch.Tensor, num_points: int, strategy: str,
                          generator: torch.Generator | None = None) -> torch.Tensor:
    """The test MSE after each of 1..num_points support points, picked from a pool one at a time.

    Args:
        model: has ``predict(x_support, y_support, x_query)`` returning a dict with mean and variance [B, M].
        x_pool, y_pool: [B, C, 1], the candidates and their (noisy) targets, revealed once picked.
        x_test, y_test: [B, T, 1], where the MSE of the predictive mean is measured.
        num_points: how many points to pick in all.
        strategy: "entropy" (``pick_max_entropy``) or "random". The first point is random either way,
            since with no data every input is as uncertain as any other.
        generator: seeds the random picks.

    Returns:
        [num_points]: the MSE averaged over tasks and test points, after 1, 2, ..., num_points points.
    """
    batch, num_candidates = x_pool.shape[:2]
    rows = torch.arange(batch)
    available = torch.ones(batch, num_candidates, dtype=torch.bool)
    picked = torch.randint(num_candidates, (batch,), generator=generator)
    curve = []
    # BEGIN SOLUTION
    # Repeat num_points times: mark the picked candidates unavailable and add them to the support set
    # (x_pool[rows, picked] is [B, 1]); measure the test MSE of model.predict's mean; then, unless it was the
    # last point, pick the next ones: pick_max_entropy on the predictive variance at the pool, or uniformly
    # at random among the available candidates (e.g. torch.rand(..., generator=generator) masked to -1
    # where unavailable, then argmax).
    chosen = []
    for step in range(num_points):
        available[rows, picked] = False
        chosen.append(picked)
        index = torch.stack(chosen, 1)                               # [B, n]
        x_support, y_support = x_pool[rows.unsqueeze(1), index], y_pool[rows.unsqueeze(1), index]
        mean = model.predict(x_support, y_support, x_test)["mean"]
        curve.append((mean - y_test.squeeze(-1)).square().mean().item())
        last = step + 1 == num_points
        if not last and strategy == "entropy":
            picked = pick_max_entropy(model.predict(x_support, y_support, x_pool)["variance"], available)
        elif not last:
            picked = torch.rand(batch, num_candidates, generator=generator).masked_fill(~available, -1).argmax(-1)
    # END SOLUTION
    return torch.tensor(curve)
