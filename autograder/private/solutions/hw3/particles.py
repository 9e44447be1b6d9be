"""Optimization-based Bayesian meta-learning: ensembles of MAMLs, and Bayesian MAML's SVGD.

The lecture's third answer: represent the posterior over a task's network
parameters by P *particles*, each a whole parameter vector, and adapt them to
the support set by gradient steps, as MAML does. Two ways to adapt:

- **ensemble of MAMLs** (``svgd=False``): every particle climbs its own support
  log-likelihood; the particles differ only by their meta-learned starting
  points. The meta-loss scores each member's own query predictions, as P
  independent MAMLs would, *and* the ensemble's prediction, the mixture of its
  members. The first alone pulls every member to the same starting point (with
  linear heads it is the same convex function of each initial head), and the
  ensemble loses its spread; the second rewards members that differ where the
  support set leaves the function open.
- **Stein variational gradient descent** (``svgd=True``, Bayesian MAML, Kim et
  al. 2018): particles move along a kernel-weighted average of all particles'
  gradients, plus a repulsive term that keeps them apart, so that together they
  approximate the posterior rather than all collapsing onto its mode (Liu and
  Wang 2016). The meta-objective is the mixture's term alone: the log-likelihood
  of the whole query set under the particles' mixture, which rewards particles
  that explain the data in different ways.

The particles of all tasks are adapted at once, on a network that runs P
parameter vectors at once (``BatchedMLP``; or ``SharedFeatureHeads``, whose
particles are linear heads on meta-learned features, the regression default).
In training mode (``model.train()``) the meta-gradient flows through the
adaptation; in evaluation mode it does not.

    model = ParticleMAML(SharedFeatureHeads(1, 80), likelihood="gaussian", num_inner_steps=5, svgd=True)
    loss, metrics = model.loss(batch)         # batch: a TaskBatch (data/tasks.py)
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from data.tasks import TaskBatch
from hw3.distributions import gaussian_log_likelihood, mixture_log_likelihood, regression_predictive
from hw3.networks import BatchedMLP, SharedFeatureHeads

LIKELIHOODS = ("gaussian", "bernoulli")


def svgd_direction(particles: torch.Tensor, scores: torch.Tensor) -> torch.Tensor:
    """The Stein variational gradient at every particle, with an RBF kernel.

    Args:
        particles: [B, P, D], P particles for each of B tasks.
        scores: [B, P, D], the gradient of the log posterior at each particle.

    Returns:
        [B, P, D]: phi(theta_i) = (1/P) sum_j [ k(theta_j, theta_i) scores_j + grad_{theta_j} k(theta_j, theta_i) ],
        with k(a, b) = exp(-||a - b||^2 / h) and the median heuristic h = median_{i != j} ||theta_i - theta_j||^2 / log(P + 1)
        (torch.median over the P * (P - 1) ordered pairs of distinct particles of a task; h is a constant, not
        differentiated, at least 1e-8, and 1 when P = 1).
    """
    # BEGIN SOLUTION
    # Squared distances [B, P, P]; the bandwidth per task (detached: its gradient is not
    # part of SVGD); the kernel matrix. The first term drives particles uphill, weighted by how near they are;
    # the second, grad_{theta_j} k(theta_j, theta_i) = (2 / h) (theta_i - theta_j) k_ij, pushes them apart.
    num_particles = particles.shape[1]
    squared = (particles.unsqueeze(2) - particles.unsqueeze(1)).square().sum(-1)           # [B, P, P]
    distinct = ~torch.eye(num_particles, dtype=torch.bool, device=particles.device)
    if num_particles > 1:
        median = squared.detach()[:, distinct].median(dim=1).values                        # [B]
        bandwidth = (median / math.log(num_particles + 1)).clamp_min(1e-8).view(-1, 1, 1)
    else:
        bandwidth = torch.ones(len(particles), 1, 1, dtype=particles.dtype, device=particles.device)
    kernel = torch.exp(-squared / bandwidth)                                               # symmetric
    attraction = kernel @ scores
    repulsion = (2 / bandwidth) * (particles * kernel.sum(-1, keepdim=True) - kernel @ particles)
    return (attraction + repulsion) / num_particles
    # END SOLUTION


class ParticleMAML(nn.Module):
    """P particles of a network's parameters, meta-learned initial positions, adapted per task by gradient steps.

    Args:
        network: runs P parameter vectors at once (a ``BatchedMLP`` or ``SharedFeatureHeads``, one output).
        likelihood: "gaussian" (regression; a meta-learned noise level) or "bernoulli" (binary labels).
        num_particles: P.
        num_inner_steps, inner_lr: the adaptation (the rate is meta-learned, in log space; see ``step_size``).
        svgd: SVGD steps and the mixture's query likelihood; False: an ensemble of MAMLs (see ``loss``).
        first_order: drop the second-order terms of the meta-gradient.
    """

    def __init__(self, network: BatchedMLP | SharedFeatureHeads, likelihood: str = "gaussian", num_particles: int = 10,
                 num_inner_steps: int = 1, inner_lr: float = 1e-3, svgd: bool = True, first_order: bool = False):
        super().__init__()
        if likelihood not in LIKELIHOODS:
            raise ValueError(f"unknown likelihood {likelihood!r}; choose one of {LIKELIHOODS}")
        self.likelihood, self.num_inner_steps, self.svgd, self.first_order = likelihood, num_inner_steps, svgd, first_order
        self.network = network
        self.initial = nn.Parameter(self.network.initial(num_particles))                 # [P, D]
        self.log_inner_lr = nn.Parameter(torch.tensor(math.log(inner_lr)))
        self.log_noise_sd = nn.Parameter(torch.tensor(math.log(0.5)), requires_grad=likelihood == "gaussian")

    def log_likelihood(self, particles: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """log p(y_m | x_m, particle p) for every task, particle and point: [B, P, D], [B, M, _], [B, M, 1] -> [B, P, M]."""
        output = self.network(particles, x).squeeze(-1)  # [B, P, M]
        target = y.squeeze(-1).unsqueeze(1).expand_as(output)
        if self.likelihood == "bernoulli":
            return -F.binary_cross_entropy_with_logits(output, target, reduction="none")
        return gaussian_log_likelihood(target, output, (2 * self.log_noise_sd).exp())

    def step_size(self, num_support: int) -> torch.Tensor:
        """The rate of one inner step, a scalar: exp(log_inner_lr), and for a Gaussian likelihood times the
        noise variance over the K support points. A Gaussian score sums K terms that each carry 1 / variance,
        so this scale makes one meta-learned rate right for every K and noise level (a Bernoulli score's
        terms are bounded, and the attribute tasks have one support size). A positive scalar times the whole
        direction: SVGD still targets the posterior itself."""
        if self.likelihood == "gaussian":
            return self.log_inner_lr.exp() * (2 * self.log_noise_sd).exp() / num_support
        return self.log_inner_lr.exp()

    def adapt(self, x_support: torch.Tensor, y_support: torch.Tensor) -> torch.Tensor:
        """Particles adapted to each task's support set: [B, K, _] inputs -> [B, P, D].

        Each step moves every particle by ``self.step_size(K)`` times a direction: its own score (the
        gradient of its support log-likelihood, summed over the K points) for an ensemble, or
        ``svgd_direction`` of all the scores with SVGD. The steps stay differentiable with respect to
        the meta-parameters in training mode, ``self.training`` (second order unless ``first_order``).
        """
        particles = self.initial.unsqueeze(0).expand(len(x_support), -1, -1)
        rate = self.step_size(x_support.shape[1])
        # BEGIN SOLUTION
        # For each inner step: the support log-likelihood per particle [B, P] (self.log_likelihood summed over
        # points); its gradient with respect to the particles, torch.autograd.grad of the total (particles of
        # different tasks do not interact), with create_graph when the meta-gradient needs second-order terms;
        # the direction; a new tensor particles + rate * direction (never in place).
        for _ in range(self.num_inner_steps):
            support_log_likelihood = self.log_likelihood(particles, x_support, y_support).sum()
            scores, = torch.autograd.grad(support_log_likelihood, particles,
                                          create_graph=self.training and not self.first_order)
            direction = svgd_direction(particles, scores) if self.svgd else scores
            particles = particles + rate * direction
        # END SOLUTION
        return particles

    def loss(self, batch: TaskBatch) -> tuple[torch.Tensor, dict[str, float]]:
        """The meta-training loss of a task batch, per query point: a scalar; and the inner rate and noise level.

        The mixture's term: minus the log-likelihood of each task's whole query set under the particles'
        mixture, log (1/P) sum_p prod_m p(y_m | x_m, particle p), divided by M and averaged over tasks.
        SVGD: the mixture's term. Ensemble: the mixture's term plus the members' own term, each particle's
        query negative log-likelihood averaged over particles, points and tasks (the handout measures what
        each term does).
        """
        # BEGIN SOLUTION
        # Adapt, then self.log_likelihood on the query set [B, P, M]. The mixture is over whole functions, so
        # sum over points before mixing over particles (mixture_log_likelihood along dim 1). Call the scalar loss.
        particles = self.adapt(batch.x_support, batch.y_support)
        query_log_likelihood = self.log_likelihood(particles, batch.x_query, batch.y_query)
        mixture = -(mixture_log_likelihood(query_log_likelihood.sum(-1), dim=1) / batch.x_query.shape[1]).mean()
        loss = mixture if self.svgd else mixture - query_log_likelihood.mean()
        # END SOLUTION
        return loss, {"inner_lr": self.log_inner_lr.exp().item(), "noise_sd": self.log_noise_sd.exp().item()}

    def components(self, x_support, y_support, x_query) -> tuple[torch.Tensor, torch.Tensor]:
        """Regression: the mixture of the adapted particles, means and variances [P, B, M]."""
        outputs = self.particle_outputs(x_support, y_support, x_query).transpose(0, 1)
        return outputs, (2 * self.log_noise_sd.detach()).exp().expand_as(outputs)

    def predict(self, x_support, y_support, x_query, y_query=None) -> dict[str, torch.Tensor]:
        """The predictive: the equally weighted mixture of the adapted particles, [B, M] tensors.

        Regression: mean, variance, and with y_query log_prob and cdf. Classification: probability (of
        label 1), and with y_query log_prob (of the true label).
        """
        if self.likelihood == "gaussian":
            return regression_predictive(*self.components(x_support, y_support, x_query),
                                         None if y_query is None else y_query.squeeze(-1))
        logits = self.particle_outputs(x_support, y_support, x_query).transpose(0, 1)  # [P, B, M]
        out = {"probability": torch.sigmoid(logits).mean(0)}
        if y_query is not None:
            labels = y_query.squeeze(-1).expand_as(logits)
            out["log_prob"] = mixture_log_likelihood(-F.binary_cross_entropy_with_logits(logits, labels, reduction="none"))
        return out

    @torch.no_grad()
    def particle_outputs(self, x_support, y_support, x, tasks_per_chunk: int = 32) -> torch.Tensor:
        """What each adapted particle computes at x [B, M, _]: [B, P, M] (a function, or logits).

        A few tasks at a time: with many inputs per task, the hidden activations of every
        particle ([B, P, M, hidden]) would otherwise take hundreds of MB.
        """
        parts = []
        for start in range(0, len(x), tasks_per_chunk):
            chunk = slice(start, start + tasks_per_chunk)
            with torch.enable_grad():  # adaptation differentiates the support likelihood
                particles = self.adapt(x_support[chunk], y_support[chunk]).detach()
            parts.append(self.network(particles, x[chunk]).squeeze(-1))
        return torch.cat(parts)

    def sample_functions(self, x_support, y_support, x, num_samples: int | None = None, generator=None) -> torch.Tensor:
        """The adapted particles' functions at x [B, M, 1]: [B, P, M] (all P of them, whatever num_samples)."""
        return self.particle_outputs(x_support, y_support, x)
