"""Exact Bayesian inference over a linear head on meta-learned features (ALPaCA; Harrison, Sharma and Pavone 2018).

The particle methods *approximate* the posterior over their linear heads by
gradient steps. They need not: with a Gaussian prior over the head w and Gaussian
noise, y = phi(x) . w + noise is Bayesian linear regression, whose posterior is
Gaussian and known in closed form. Meta-learning is left with what a closed form
cannot give: the features phi, the prior N(prior_mean, prior_precision^-1) and the
noise level, trained by the query log-likelihood through the exact posterior (the
way R2-D2 differentiates through a closed-form ridge regression).

A *mixture* of C such models (each its own features and prior) covers a family
with kinds of functions, such as sinusoid_or_line: the posterior weight of each
component is Bayes' rule on how well it explains the support set, its *evidence*
p(y_support | x_support, component). Sampled functions then come from every
component that the data leave plausible: a line and a sinusoid when two points
cannot tell them apart.

For one component with prior precision L0 = prior_precision, noise variance s2 and the
support's features Phi [K, W] and targets y [K]:

    posterior precision   L = L0 + Phi^T Phi / s2
    posterior mean        m = L^-1 (L0 prior_mean + Phi^T y / s2)
    predictive at x       N(phi(x) . m, s2 + phi(x)^T L^-1 phi(x))

    model = BayesianLinearRegression(width=64, num_components=1)
    loss, metrics = model.loss(batch)                  # batch: a TaskBatch (data/tasks.py)
    means, variances, log_weights = model.components(x_support, y_support, x_query)   # [C, B, M], [C, B]
"""
from __future__ import annotations

import math

import torch
from torch import nn

from data.tasks import TaskBatch
from hw3.distributions import LOG_TWO_PI, gaussian_log_likelihood, regression_predictive
from hw3.networks import mlp

JITTER = 1e-4  # added to the prior precision's diagonal: it stays positive definite whatever the factor


class BayesianLinearRegression(nn.Module):
    """C components, each Bayesian linear regression on its own meta-learned features.

    Args:
        width: W, the features per component.
        hidden: the width of the feature network's two hidden layers (shared by the components).
        num_components: C (1: a single Gaussian prior; 2: e.g. one for lines and one for sinusoids).
    """

    def __init__(self, width: int = 64, hidden: int = 128, num_components: int = 1):
        super().__init__()
        self.width, self.num_components = width, num_components
        self.network = mlp([1, hidden, hidden, num_components * width])
        self.prior_mean = nn.Parameter(torch.zeros(num_components, width))                       # [C, W]
        self.prior_factor = nn.Parameter(torch.eye(width).repeat(num_components, 1, 1))          # [C, W, W]
        self.log_noise_sd = nn.Parameter(torch.tensor(math.log(0.5)))
        self.component_logits = nn.Parameter(torch.zeros(num_components))                         # the prior over C

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """phi(x) of every component: [B, N, 1] -> [B, C, N, W]."""
        return self.network(x).unflatten(-1, (self.num_components, self.width)).transpose(1, 2)

    def prior_precision(self) -> torch.Tensor:
        """L0 of every component, F F^T + jitter * I with F the lower triangle of ``prior_factor``: [C, W, W]."""
        factor = torch.tril(self.prior_factor)
        return factor @ factor.transpose(-1, -2) + JITTER * torch.eye(self.width)

    def noise_variance(self) -> torch.Tensor:
        return (2 * self.log_noise_sd).exp()

    def posterior(self, x_support: torch.Tensor, y_support: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The exact posterior over each component's head, given each task's support set.

        Args:
            x_support, y_support: [B, K, 1] (K >= 0).

        Returns:
            mean: [B, C, W], the posterior mean m.
            cholesky: [B, C, W, W], the lower Cholesky factor of the posterior precision L (L = cholesky cholesky^T),
                what ``torch.cholesky_solve(rhs, cholesky)`` needs to compute L^-1 rhs.
        """
        # TODO: Phi [B, C, K, W] (self.features); L = L0 + Phi^T Phi / s2 [B, C, W, W]; its Cholesky factor
        #       (torch.linalg.cholesky); m = L^-1 (L0 prior_mean + Phi^T y / s2), with cholesky_solve (never an inverse).
        raise NotImplementedError("TODO in BayesianLinearRegression.posterior(): see the comment above")
        return mean, cholesky

    def log_evidence(self, x_support: torch.Tensor, y_support: torch.Tensor) -> torch.Tensor:
        """log p(y_support | x_support, component c) of each task and component: [B, K, 1] -> [B, C].

        Under component c the K targets are jointly Gaussian, N(Phi prior_mean, Phi L0^-1 Phi^T + s2 I). Its log
        density, without forming that K x K covariance (Woodbury's identity and the matrix determinant lemma),
        with r = y - Phi prior_mean [K] and u = Phi^T r / s2 [W]:

            -1/2 ( r . r / s2 - u^T L^-1 u + log det L - log det L0 + K log s2 + K log 2 pi )

        (log det of a matrix with Cholesky factor C is 2 sum log diag C.)
        """
        _, cholesky = self.posterior(x_support, y_support)
        num_support = x_support.shape[1]
        # TODO: r [B, C, K]; u [B, C, W, 1]; u^T L^-1 u with cholesky_solve; the two log determinants from the
        #       diagonals of cholesky and of torch.linalg.cholesky(self.prior_precision()).
        raise NotImplementedError("TODO in BayesianLinearRegression.log_evidence(): see the comment above")

    def components(self, x_support: torch.Tensor, y_support: torch.Tensor,
                   x_query: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The posterior predictive: a mixture of C Gaussians at each query point.

        Args:
            x_support, y_support: [B, K, 1]; x_query: [B, M, 1].

        Returns:
            means, variances: [C, B, M], N(phi . m, s2 + phi^T L^-1 phi) of each component.
            log_weights: [C, B], log p(component | support), Bayes' rule: log_softmax over C of the prior's
                ``component_logits`` plus ``log_evidence``.
        """
        mean, cholesky = self.posterior(x_support, y_support)
        phi = self.features(x_query)                                                              # [B, C, M, W]
        # TODO: The means phi . m; the variances s2 + phi^T L^-1 phi, with cholesky_solve on phi^T [B, C, W, M];
        #       the log weights. Then put C first.
        raise NotImplementedError("TODO in BayesianLinearRegression.components(): see the comment above")

    def loss(self, batch: TaskBatch) -> tuple[torch.Tensor, dict[str, float]]:
        """The negative log predictive density of the query targets, per query point, averaged: a scalar; and
        the noise sd. Each point's density is the mixture's, sum_c weight_c N(y; mean_c, variance_c)."""
        # TODO: self.components; gaussian_log_likelihood of y_query [B, M] under each component [C, B, M]; add the log
        #       weights [C, B, 1] and logsumexp over C; minus the mean.
        raise NotImplementedError("TODO in BayesianLinearRegression.loss(): see the comment above")
        return loss, {"noise_sd": self.log_noise_sd.exp().item()}

    def predict(self, x_support, y_support, x_query, y_query=None) -> dict[str, torch.Tensor]:
        """mean, variance, and with y_query: log_prob, cdf, each [B, M], of the weighted mixture."""
        with torch.no_grad():
            means, variances, log_weights = self.components(x_support, y_support, x_query)
        return regression_predictive(means, variances, None if y_query is None else y_query.squeeze(-1), log_weights)

    @torch.no_grad()
    def sample_functions(self, x_support, y_support, x, num_samples: int = 10, generator=None) -> torch.Tensor:
        """Functions of heads drawn from the posterior, at x [B, M, 1]: [B, S, M]. Each sample picks a
        component by its posterior weight, then a head w = m + L^-T epsilon, whose covariance is L^-1."""
        mean, cholesky = self.posterior(x_support, y_support)
        log_weights = self.components(x_support, y_support, x_support[:, :0])[2]                  # [C, B]
        picked = torch.multinomial(log_weights.T.exp(), num_samples, replacement=True, generator=generator)  # [B, S]
        rows = torch.arange(len(mean)).unsqueeze(1)
        epsilon = torch.randn((*picked.shape, self.width, 1), generator=generator)
        heads = mean[rows, picked] + torch.linalg.solve_triangular(
            cholesky[rows, picked].transpose(-1, -2), epsilon, upper=True).squeeze(-1)           # [B, S, W]
        phi = self.features(x)[rows, picked]                                                      # [B, S, M, W]
        return (phi @ heads.unsqueeze(-1)).squeeze(-1)
