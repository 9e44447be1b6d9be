"""Amortized Bayesian meta-learning (ABML; Ravi and Beatson 2019): MAML whose adapted parameters are a Gaussian.

The optimization-based answer to Bayesian meta-learning, without particles. A task's
function is a linear head w on meta-learned features phi(x) (as for the particle
methods), y = phi(x) . w + noise. ABML meta-learns a *prior* over the head,
p_theta(w) = N(prior_mean, diag(prior_sd^2)), and infers each task's posterior
q(w | D_tr) = N(mean, diag(sd^2)) the way MAML adapts: start at the prior's
parameters and take a few gradient steps, here up the support set's evidence
lower bound

    ELBO_tr(q) = E_{w ~ q} [ sum_k log p(y_k | x_k, w) ] - KL( q || p_theta ).

Meta-training maximises the log-likelihood of the query set under q's predictive,
through the inner steps, so that the prior learns where tasks' heads lie and how far
they spread, and the features learn what makes a head easy to infer. (The paper
maximises the query set's ELBO instead. Its expected log-likelihood charges q's spread
as if it were error, and the one noise level then grows to cover what five steps leave
of the misfit: trained that way, the 90% intervals held 98% of the targets and the NLL
at K = 5 was 0.36 nats above the optimum. With the predictive's likelihood, the
objective that ML-PIP (Gordon et al. 2019) gives amortized posteriors, it is 0.08.)

The paper estimates the expectation with reparameterized samples of w. For a linear
head with a Gaussian likelihood it has a closed form, which this module uses: with 81
correlated head weights, a sampled estimate of a log sd's gradient is several times
larger than the gradient itself, and the inner steps on the sds diverge. The
predictive of q is then a single Gaussian, N(phi . mean, noise^2 + phi^2 . sd^2).

    model = AmortizedBayesianMAML(body_width=80, num_inner_steps=5)
    loss, metrics = model.loss(batch)        # batch: a TaskBatch (data/tasks.py)
    means, variances = model.components(x_support, y_support, x_query)   # the predictive, [1, B, M]
"""
from __future__ import annotations

import math

import torch
from torch import nn

from data.tasks import TaskBatch
from hw3.distributions import gaussian_log_likelihood, regression_predictive
from hw3.networks import SharedFeatureHeads


def diagonal_gaussian_kl(mean: torch.Tensor, log_sd: torch.Tensor, prior_mean: torch.Tensor,
                         prior_log_sd: torch.Tensor) -> torch.Tensor:
    """KL( N(mean, diag(sd^2)) || N(prior_mean, diag(prior_sd^2)) ), analytically, with sd = exp(log_sd).

    Args:
        mean, log_sd: [..., D], the approximate posterior.
        prior_mean, prior_log_sd: broadcastable to [..., D], the prior.

    Returns:
        [...]: the KL divergence, summed over the D dimensions.
    """
    # BEGIN SOLUTION
    # Per dimension: log(prior_sd / sd) + (sd^2 + (mean - prior_mean)^2) / (2 prior_sd^2) - 1/2.
    ratio = (2 * (log_sd - prior_log_sd)).exp()
    gap = (mean - prior_mean).square() / (2 * prior_log_sd).exp()
    return 0.5 * (ratio + gap - 1 - 2 * (log_sd - prior_log_sd)).sum(-1)
    # END SOLUTION


def expected_log_likelihood(mean: torch.Tensor, log_sd: torch.Tensor, features: torch.Tensor, y: torch.Tensor,
                            noise_variance: torch.Tensor) -> torch.Tensor:
    """E_{w ~ N(mean, diag(sd^2))} [ log N(y; features . w, noise_variance) ] for every point, in closed form.

    Args:
        mean, log_sd: [B, D], each task's Gaussian over its head.
        features: [B, M, D], phi(x) of each point (the last entry is 1: the bias).
        y: [B, M], the targets.
        noise_variance: a scalar tensor.

    Returns:
        [B, M]: log N(y; phi . mean, noise_variance) - (phi^2 . sd^2) / (2 noise_variance). (With w = mean +
        sd * epsilon, the residual y - phi . w has mean y - phi . mean and variance phi^2 . sd^2.)
    """
    # BEGIN SOLUTION
    # The Gaussian log density at the mean head (gaussian_log_likelihood), minus the spread the sds add.
    predicted = (features @ mean.unsqueeze(-1)).squeeze(-1)                                # [B, M]
    spread = features.square() @ (2 * log_sd).exp().unsqueeze(-1)                          # [B, M, 1]
    return gaussian_log_likelihood(y, predicted, noise_variance) - spread.squeeze(-1) / (2 * noise_variance)
    # END SOLUTION


class AmortizedBayesianMAML(nn.Module):
    """A meta-learned Gaussian prior over a linear head, adapted per task by variational gradient steps.

    Args:
        input_dim, body_width: the meta-learned features phi(x) (``SharedFeatureHeads``; D = body_width + 1).
        num_inner_steps: the adaptation's gradient steps.
        inner_lr, inner_lr_sd: the rates of the means and of the log standard deviations at the start of
            meta-training, which learns both (in log space; see ``step_sizes``).
        prior_sd: the prior's standard deviation at the start of meta-training.
        first_order: drop the second-order terms of the meta-gradient.
    """

    def __init__(self, input_dim: int = 1, body_width: int = 80, num_inner_steps: int = 5, inner_lr: float = 0.01,
                 inner_lr_sd: float = 0.3, prior_sd: float = 0.1, first_order: bool = False):
        super().__init__()
        self.num_inner_steps, self.first_order = num_inner_steps, first_order
        self.network = SharedFeatureHeads(input_dim, body_width)
        self.prior_mean = nn.Parameter(self.network.initial(1)[0])                             # [D]
        self.prior_log_sd = nn.Parameter(torch.full_like(self.prior_mean, math.log(prior_sd)))  # [D]
        self.log_inner_lrs = nn.Parameter(torch.tensor([inner_lr, inner_lr_sd]).log())        # means, log sds
        self.log_noise_sd = nn.Parameter(torch.tensor(math.log(0.5)))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """phi(x) with a 1 appended for the bias, in the head's layout: [B, M, input_dim] -> [B, M, D]."""
        phi = self.network.features(x)
        return torch.cat([phi, torch.ones_like(phi[..., :1])], -1)

    def noise_variance(self) -> torch.Tensor:
        return (2 * self.log_noise_sd).exp()

    def step_sizes(self, num_support: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The rates of one inner step for the means and for the log sds, scalars: exp(log_inner_lrs), the
        means' times the noise variance over the K support points.

        A mean's gradient sums K terms that each carry 1 / noise variance: the scale makes one rate suit
        every K and noise level, as for the particle methods. A log sd's gradient needs none: it is
        1 - sd^2 / sd*^2, with sd* the best sd, whatever K and the noise, so a rate below 1 approaches
        sd* without overshooting it."""
        rates = self.log_inner_lrs.exp()
        return rates[0] * self.noise_variance() / num_support, rates[1]

    def adapt(self, x_support: torch.Tensor, y_support: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """q(w | D_tr) of each task, the mean and log sd [B, D], reached by ``num_inner_steps`` steps up ELBO_tr.

        Start from the prior's parameters, one copy per task. Each step: the support ELBO of each task
        [B], ``expected_log_likelihood`` summed over the K points minus ``diagonal_gaussian_kl`` to the
        prior; its gradient with respect to the mean and the log sd (tasks do not interact: differentiate
        the sum over tasks); then mean + rate_mean * gradient and log_sd + rate_log_sd * gradient
        (``step_sizes``; new tensors, never in place). In training mode (``self.training``) the steps stay
        differentiable with respect to the meta-parameters, second order unless ``first_order``.
        """
        mean = self.prior_mean.unsqueeze(0).expand(len(x_support), -1)
        log_sd = self.prior_log_sd.unsqueeze(0).expand(len(x_support), -1)
        features, targets = self.features(x_support), y_support.squeeze(-1)
        mean_rate, log_sd_rate = self.step_sizes(x_support.shape[1])
        # BEGIN SOLUTION
        # For each of the self.num_inner_steps steps: the support ELBO per task [B] (expected_log_likelihood
        # [B, K] summed over the points, minus diagonal_gaussian_kl to self.prior_mean, self.prior_log_sd);
        # torch.autograd.grad of its sum with respect to (mean, log_sd), create_graph as the docstring says;
        # the two steps. The prior's parameters enter the KL too: its gradient pulls q back towards the prior.
        for _ in range(self.num_inner_steps):
            expected = expected_log_likelihood(mean, log_sd, features, targets, self.noise_variance()).sum(-1)
            elbo = expected - diagonal_gaussian_kl(mean, log_sd, self.prior_mean, self.prior_log_sd)
            mean_gradient, log_sd_gradient = torch.autograd.grad(
                elbo.sum(), (mean, log_sd), create_graph=self.training and not self.first_order)
            mean = mean + mean_rate * mean_gradient
            log_sd = log_sd + log_sd_rate * log_sd_gradient
        # END SOLUTION
        return mean, log_sd

    def predictive(self, mean: torch.Tensor, log_sd: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The predictive of q = N(mean, diag(sd^2)) at x [B, M, _]: mean phi . mean and variance
        noise^2 + phi^2 . sd^2, [B, M] each (y = phi . w + noise, with w and the noise independent Gaussians)."""
        features = self.features(x)
        means = (features @ mean.unsqueeze(-1)).squeeze(-1)
        variances = self.noise_variance() + (features.square() @ (2 * log_sd).exp().unsqueeze(-1)).squeeze(-1)
        return means, variances

    def loss(self, batch: TaskBatch) -> tuple[torch.Tensor, dict[str, float]]:
        """Minus the query log-likelihood under the adapted q's predictive, per query point, averaged over
        tasks: a scalar; and metrics.

        For each task: q from ``adapt`` on the support set; log N(y_m; predictive mean, predictive variance)
        of each query point (``predictive``); minus its mean over the points and the tasks. Metrics: the two
        inner rates, the noise sd, and KL(q || p_theta) per task, averaged (how far the support set moved q).
        """
        # BEGIN SOLUTION
        # q's mean and log sd [B, D] (self.adapt); the predictive at the query inputs; gaussian_log_likelihood of
        # the query targets [B, M]; the loss, minus its mean. The KL [B] to the prior, named kl, for the metrics.
        mean, log_sd = self.adapt(batch.x_support, batch.y_support)
        loss = -gaussian_log_likelihood(batch.y_query.squeeze(-1), *self.predictive(mean, log_sd, batch.x_query)).mean()
        kl = diagonal_gaussian_kl(mean, log_sd, self.prior_mean, self.prior_log_sd)
        # END SOLUTION
        mean_lr, log_sd_lr = self.log_inner_lrs.exp().tolist()
        return loss, {"mean_lr": mean_lr, "log_sd_lr": log_sd_lr, "noise_sd": self.log_noise_sd.exp().item(),
                      "kl": kl.mean().item()}

    @torch.no_grad()
    def posterior(self, x_support, y_support) -> tuple[torch.Tensor, torch.Tensor]:
        """The adapted q of each task, detached: mean, log sd [B, D]."""
        with torch.enable_grad():  # the adaptation differentiates the support ELBO
            mean, log_sd = self.adapt(x_support, y_support)
        return mean.detach(), log_sd.detach()

    @torch.no_grad()
    def components(self, x_support, y_support, x_query) -> tuple[torch.Tensor, torch.Tensor]:
        """The predictive of q at x_query [B, M, _], one Gaussian per point: mean and variance [1, B, M]."""
        means, variances = self.predictive(*self.posterior(x_support, y_support), x_query)
        return means.unsqueeze(0), variances.unsqueeze(0)

    def predict(self, x_support, y_support, x_query, y_query=None) -> dict[str, torch.Tensor]:
        """mean, variance, and with y_query: log_prob, cdf, each [B, M], of the predictive of q."""
        return regression_predictive(*self.components(x_support, y_support, x_query),
                                     None if y_query is None else y_query.squeeze(-1))

    @torch.no_grad()
    def sample_functions(self, x_support, y_support, x, num_samples: int = 10, generator=None) -> torch.Tensor:
        """The functions of ``num_samples`` heads w ~ q(w | D_tr) at x [B, M, _]: [B, S, M]."""
        mean, log_sd = self.posterior(x_support, y_support)
        epsilon = torch.randn((len(mean), num_samples, mean.shape[-1]), generator=generator)
        return self.network(mean.unsqueeze(1) + log_sd.exp().unsqueeze(1) * epsilon, x).squeeze(-1)
