"""Version 0: a black-box meta-learner that outputs a distribution (a conditional neural process).

The lecture's first answer to "how do we get uncertainty?": keep the black-box
learner of hw1, but let it output the parameters of a distribution over y for
each query point, here a Gaussian mean and variance, and train it by maximum
likelihood (Garnelo et al. 2018). The support set is summarised by the mean of
per-point embeddings, so its order does not matter and any K works.

What it cannot do: its predictive is one Gaussian per query point, independent
across points. It can say "somewhere between -2 and 2" but not "a sinusoid or a
line": it has no way to sample coherent functions.

    model = ConditionalNeuralProcess()
    mean, variance = model(x_support, y_support, x_query)     # [B, M] each
    loss, metrics = model.loss(batch)                         # batch: a TaskBatch (data/tasks.py)
"""
from __future__ import annotations

import torch
from torch import nn

from data.tasks import TaskBatch
from hw3.distributions import gaussian_log_likelihood, regression_predictive
from hw3.networks import gaussian_head, mlp


class ConditionalNeuralProcess(nn.Module):
    """encoder: (x, y) -> r_k; r = mean_k r_k; decoder: (r, x) -> mean, variance."""

    def __init__(self, hidden: int = 128):
        super().__init__()
        self.encoder = mlp([2, hidden, hidden, hidden])
        self.decoder = mlp([hidden + 1, hidden, hidden, 2])

    def forward(self, x_support: torch.Tensor, y_support: torch.Tensor,
                x_query: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The predictive Gaussian at each query point.

        Args:
            x_support, y_support: [B, K, 1], K >= 1.
            x_query: [B, M, 1].

        Returns:
            mean, variance: [B, M] each (variance from ``gaussian_head``, so always positive).
        """
        # TODO: Encode each support pair (x_k, y_k) and average over k: the task's representation r [B, hidden].
        #       Give r to every query point, concatenate it with x_query, decode, and turn the decoder's two
        #       outputs into a mean and a variance with gaussian_head.
        raise NotImplementedError("TODO in ConditionalNeuralProcess.forward(): see the comment above")

    def loss(self, batch: TaskBatch) -> tuple[torch.Tensor, dict[str, float]]:
        """The negative log-likelihood of the query targets (batch.y_query [B, M, 1]) per query point, a scalar;
        and no metrics beyond it."""
        # TODO: Maximum likelihood: nll, the mean over tasks and query points of -log N(y; mean, variance).
        raise NotImplementedError("TODO in ConditionalNeuralProcess.loss(): see the comment above")
        return nll, {}

    @torch.no_grad()
    def components(self, x_support, y_support, x_query) -> tuple[torch.Tensor, torch.Tensor]:
        """The predictive as a mixture of one Gaussian: means and variances [1, B, M]."""
        mean, variance = self(x_support, y_support, x_query)
        return mean.unsqueeze(0), variance.unsqueeze(0)

    def predict(self, x_support, y_support, x_query, y_query=None) -> dict[str, torch.Tensor]:
        """mean, variance, and with y_query: log_prob, cdf, each [B, M] (see distributions.regression_predictive)."""
        return regression_predictive(*self.components(x_support, y_support, x_query),
                                     None if y_query is None else y_query.squeeze(-1))
