"""The probability every method of hw3 is built from: Gaussians, their KL, samples and mixtures.

A Bayesian meta-learner does not output one prediction per query point but a
*predictive distribution*. Here it is a Gaussian (a conditional neural process)
or a mixture of Gaussians, one per sample of the task variable (a latent
variable model, an ensemble, SVGD particles). Every function below works
elementwise on tensors of any shape, so one line serves every method.
"""
from __future__ import annotations

import math

import torch

LOG_TWO_PI = math.log(2 * math.pi)


def gaussian_log_likelihood(y: torch.Tensor, mean: torch.Tensor, variance: torch.Tensor) -> torch.Tensor:
    """log N(y; mean, variance), elementwise: three tensors of one shape (or broadcastable) -> that shape."""
    # TODO: The log density of a Gaussian: -(y - mean)^2 / (2 variance) - log(2 pi variance) / 2.
    raise NotImplementedError("TODO in gaussian_log_likelihood(): see the comment above")


def gaussian_kl(mean: torch.Tensor, log_variance: torch.Tensor) -> torch.Tensor:
    """KL( N(mean, diag(exp(log_variance))) || N(0, I) ), analytically.

    Args:
        mean, log_variance: [..., Z], a diagonal Gaussian over a Z-dimensional variable.

    Returns:
        [...]: the KL divergence, summed over the Z dimensions.
    """
    # TODO: Per dimension, KL(N(m, v) || N(0, 1)) = (v + m^2 - 1 - log v) / 2; sum over the last dimension.
    raise NotImplementedError("TODO in gaussian_kl(): see the comment above")


def reparameterize(mean: torch.Tensor, log_variance: torch.Tensor, num_samples: int,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """Samples of N(mean, diag(exp(log_variance))) that gradients flow through.

    Args:
        mean, log_variance: [..., Z].
        num_samples: S.
        generator: seeds the standard normal noise (None: torch's global generator).

    Returns:
        [S, ..., Z]: mean + standard deviation * epsilon, epsilon ~ N(0, I) drawn with ``generator``.
    """
    # TODO: The reparameterization trick: draw epsilon [S, ..., Z] with torch.randn(..., generator=generator,
    #       dtype=mean.dtype, device=mean.device), then scale and shift it, so that the sample is a
    #       differentiable function of mean and log_variance.
    raise NotImplementedError("TODO in reparameterize(): see the comment above")


def mixture_log_likelihood(log_likelihoods: torch.Tensor, dim: int = 0) -> torch.Tensor:
    """The log likelihood under an equally weighted mixture of its components.

    Args:
        log_likelihoods: log p(y | component s), with the S components along ``dim``.

    Returns:
        log (1/S) sum_s p(y | component s), with ``dim`` reduced away.
    """
    # TODO: Never exponentiate a log likelihood directly: torch.logsumexp is the stable way.
    raise NotImplementedError("TODO in mixture_log_likelihood(): see the comment above")


def gaussian_cdf(y: torch.Tensor, mean: torch.Tensor, variance: torch.Tensor) -> torch.Tensor:
    """P(Y <= y) for Y ~ N(mean, variance), elementwise."""
    return torch.special.ndtr((y - mean) / variance.sqrt())


def mixture_moments(means: torch.Tensor, variances: torch.Tensor, dim: int = 0,
                    weights: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and variance of a mixture of Gaussians whose components lie along ``dim``, equally weighted unless
    ``weights`` (broadcastable to ``means``, summing to 1 along ``dim``) are given."""
    if weights is None:
        weights = torch.full_like(means, 1 / means.shape[dim])
    mean = (weights * means).sum(dim)
    variance = (weights * (variances + means.square())).sum(dim) - mean.square()
    return mean, variance.clamp_min(1e-12)


def regression_predictive(means: torch.Tensor, variances: torch.Tensor, y: torch.Tensor | None,
                          log_weights: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """The predictive of a mixture of S Gaussians (S = 1: a single Gaussian) at M query points of B tasks.

    Args:
        means, variances: [S, B, M]. y: the query targets [B, M], or None.
        log_weights: [S, B], the log weights of the components in each task (None: equal weights).

    Returns:
        mean and variance [B, M] (the mixture's moments) and, when y is given, log_prob (the log
        predictive density of y) and cdf (the predictive probability of a value at most y), [B, M].
    """
    weights = None if log_weights is None else log_weights.exp().unsqueeze(-1)      # [S, B, 1]
    mean, variance = mixture_moments(means, variances, weights=weights)
    out = {"mean": mean, "variance": variance}
    if y is not None:
        log_likelihoods = gaussian_log_likelihood(y, means, variances)
        cdfs = gaussian_cdf(y, means, variances)
        if log_weights is None:
            out["log_prob"], out["cdf"] = mixture_log_likelihood(log_likelihoods), cdfs.mean(0)
        else:
            out["log_prob"] = torch.logsumexp(log_likelihoods + log_weights.unsqueeze(-1), 0)
            out["cdf"] = (weights * cdfs).sum(0)
    return out
