"""Amortized variational inference: a latent task variable z, inferred from the support set.

The lecture's second answer. A task is a random function; give it a latent
variable z with prior p(z) = N(0, I), and a decoder p(y | x, z). Exact inference
of z from the support set D_tr is intractable, so an *inference network* outputs
an approximate posterior q(z | D_tr) = N(mu, diag(sigma^2)), and training
maximises the lecture's evidence lower bound on the query set D_ts:

    ELBO = E_{z ~ q(z | D_tr)} [ log p(y_ts | x_ts, z) ] - KL( q(z | D_tr) || p(z) )

The expectation is estimated with reparameterized samples z = mu + sigma * eps,
so that its gradient reaches the inference network. One z is one whole
function: sampling z gives coherent, different hypotheses (a sinusoid, or a
line), which Version 0 cannot. The predictive mixes over samples of z.

    model = LatentVariableModel(num_samples=1)
    elbo = model.elbo(x_support, y_support, x_query, y_query, num_samples=8)   # per query point
    loss, metrics = model.loss(batch)   # batch: a TaskBatch; -ELBO with the model's num_samples
"""
from __future__ import annotations

import torch
from torch import nn

from data.tasks import TaskBatch
from hw3.distributions import gaussian_kl, gaussian_log_likelihood, regression_predictive, reparameterize
from hw3.networks import gaussian_head, mlp


class LatentVariableModel(nn.Module):
    """Inference network (x, y)_k -> q(z | D_tr); decoder (z, x) -> mean, variance of y.

    ``num_samples``: samples of z per ELBO estimate in training (1 is unbiased and cheapest).
    """

    def __init__(self, latent_dim: int = 8, hidden: int = 128, num_samples: int = 1):
        super().__init__()
        self.num_samples = num_samples
        self.encoder = mlp([2, hidden, hidden, hidden])
        self.posterior_head = nn.Linear(hidden, 2 * latent_dim)
        self.decoder = mlp([latent_dim + 1, hidden, hidden, 2])

    def posterior(self, x_support: torch.Tensor, y_support: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q(z | D_tr) of each task: support [B, K, 1] -> mean, log_variance [B, Z]."""
        summary = self.encoder(torch.cat([x_support, y_support], -1)).mean(1)
        return self.posterior_head(summary).chunk(2, dim=-1)

    def decode(self, z: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The Gaussian of y at each x for each sample of z: z [S, B, Z], x [B, M, 1] -> mean, variance [S, B, M]."""
        z = z.unsqueeze(2).expand(-1, -1, x.shape[1], -1)                 # [S, B, M, Z]
        x = x.unsqueeze(0).expand(z.shape[0], -1, -1, -1)                 # [S, B, M, 1]
        return gaussian_head(self.decoder(torch.cat([z, x], -1)))

    def elbo(self, x_support, y_support, x_query, y_query, num_samples: int,
             generator: torch.Generator | None = None) -> torch.Tensor:
        """The ELBO of the query set, divided by its M points and averaged over the B tasks: a scalar.

        Args:
            x_support, y_support: [B, K, 1]; x_query, y_query: [B, M, 1].
            num_samples: S, the samples of z that estimate the expectation.
            generator: passed to ``reparameterize``.
        """
        # BEGIN SOLUTION
        # q(z | D_tr) with self.posterior; S reparameterized samples z [S, B, Z]; the Gaussian of each query
        # target under each sample (self.decode); the log-likelihood of the whole query set per sample
        # (sum over points), averaged over samples: a Monte Carlo estimate of the expectation [B].
        # Subtract the KL to the prior N(0, I) [B], divide by M, average over tasks.
        mean, log_variance = self.posterior(x_support, y_support)
        z = reparameterize(mean, log_variance, num_samples, generator)
        y_mean, y_variance = self.decode(z, x_query)
        expected = gaussian_log_likelihood(y_query.squeeze(-1), y_mean, y_variance).sum(-1).mean(0)  # [B]
        return ((expected - gaussian_kl(mean, log_variance)) / x_query.shape[1]).mean()
        # END SOLUTION

    def loss(self, batch: TaskBatch) -> tuple[torch.Tensor, dict[str, float]]:
        """Training minimises the negative ELBO, estimated with ``self.num_samples`` samples of z; no metrics."""
        return -self.elbo(batch.x_support, batch.y_support, batch.x_query, batch.y_query, self.num_samples), {}

    @torch.no_grad()
    def components(self, x_support, y_support, x_query, num_samples: int = 64,
                   generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The predictive, a mixture over samples of z ~ q(z | D_tr): means and variances [S, B, M]."""
        mean, log_variance = self.posterior(x_support, y_support)
        return self.decode(reparameterize(mean, log_variance, num_samples, generator), x_query)

    def predict(self, x_support, y_support, x_query, y_query=None, num_samples: int = 64,
                generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """mean, variance, and with y_query: log_prob, cdf, each [B, M], of the mixture over ``num_samples`` z."""
        return regression_predictive(*self.components(x_support, y_support, x_query, num_samples, generator),
                                     None if y_query is None else y_query.squeeze(-1))

    @torch.no_grad()
    def sample_functions(self, x_support, y_support, x, num_samples: int,
                         generator: torch.Generator | None = None) -> torch.Tensor:
        """Mean functions of samples of z ~ q(z | D_tr), at x [B, M, 1]: [B, S, M]."""
        mean, log_variance = self.posterior(x_support, y_support)
        return self.decode(reparameterize(mean, log_variance, num_samples, generator), x)[0].transpose(0, 1)
