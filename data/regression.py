"""1-D regression task families with exactly stated priors, and their Bayes-optimal predictor.

Families (x uniform on [-5, 5], observations y = f(x) + Gaussian noise, sd 0.3):

``sinusoid``          f(x) = A sin(x - phi), A ~ U[0.1, 5], phi ~ U[0, pi]  (Finn et al. 2017)
``line``              f(x) = a x + b, a ~ U[-3, 3], b ~ U[-3, 3]
``sinusoid_or_line``  a sinusoid or a line with probability 1/2 each: from a few points the
                      two can be hard to tell apart (Finn, Xu and Levine 2018)

Because the priors are known exactly, so is the best any meta-learner can do:
the posterior predictive p(y | x, D_support) = integral of p(y | x, theta) p(theta | D_support).
``BayesOptimal`` computes it by quadrature: the midpoint rule on a fine grid
over each family's two parameters, with posterior weights from the Gaussian
likelihood of the support set. Its predictive is a mixture of Gaussians, one
per grid point.

    tasks = RegressionTasks("sinusoid", seed=0).sample(batch_size=100, num_support=5, num_query=50)
    optimum = BayesOptimal("sinusoid").predict(tasks.x_support, tasks.y_support, tasks.x_query, tasks.y_query)
    optimum["log_prob"].mean()            # about -0.41: the best possible log-likelihood per query point
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from data.tasks import TaskBatch

FAMILIES = ("sinusoid", "line", "sinusoid_or_line")
NOISE_SD = 0.3
X_RANGE = (-5.0, 5.0)
AMPLITUDE_RANGE = (0.1, 5.0)
PHASE_RANGE = (0.0, math.pi)
SLOPE_RANGE = (-3.0, 3.0)
INTERCEPT_RANGE = (-3.0, 3.0)
SINUSOID, LINE = 0, 1  # values of RegressionTaskBatch.kind


def sinusoid(parameters: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """A sin(x - phi) for parameters [..., 2] = (A, phi) and x [..., M]: [..., M]."""
    return parameters[..., :1] * torch.sin(x - parameters[..., 1:])


def line(parameters: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """a x + b for parameters [..., 2] = (a, b) and x [..., M]: [..., M]."""
    return parameters[..., :1] * x + parameters[..., 1:]


@dataclass(frozen=True)
class RegressionTaskBatch(TaskBatch):
    """B regression tasks. Inputs and targets are [B, K, 1] (support) and [B, M, 1] (query); and the truth."""

    kind: torch.Tensor        # int64 [B]: SINUSOID or LINE
    parameters: torch.Tensor  # float [B, 2]: (A, phi) of a sinusoid, (a, b) of a line


class RegressionTasks:
    """Seeded sampler of tasks of one family."""

    def __init__(self, family: str = "sinusoid", noise_sd: float = NOISE_SD, seed: int = 0):
        if family not in FAMILIES:
            raise ValueError(f"unknown family {family!r}; choose one of {FAMILIES}")
        self.family, self.noise_sd = family, noise_sd
        self.generator = torch.Generator().manual_seed(seed)

    def _uniform(self, shape, low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(shape, generator=self.generator)

    def sample(self, batch_size: int, num_support: int, num_query: int) -> RegressionTaskBatch:
        if num_support < 0 or num_query < 0 or batch_size < 1:
            raise ValueError("batch_size must be positive, num_support and num_query non-negative")
        if self.family == "sinusoid_or_line":
            kind = (torch.rand(batch_size, generator=self.generator) < 0.5).long()
        else:
            kind = torch.full((batch_size,), SINUSOID if self.family == "sinusoid" else LINE)
        sine_parameters = torch.stack([self._uniform(batch_size, *AMPLITUDE_RANGE),
                                       self._uniform(batch_size, *PHASE_RANGE)], dim=1)
        line_parameters = torch.stack([self._uniform(batch_size, *SLOPE_RANGE),
                                       self._uniform(batch_size, *INTERCEPT_RANGE)], dim=1)
        parameters = torch.where((kind == SINUSOID).unsqueeze(1), sine_parameters, line_parameters)
        x = self._uniform((batch_size, num_support + num_query), *X_RANGE)
        f = torch.where((kind == SINUSOID).unsqueeze(1), sinusoid(parameters, x), line(parameters, x))
        y = f + self.noise_sd * torch.randn(x.shape, generator=self.generator)
        x, y = x.unsqueeze(-1), y.unsqueeze(-1)
        return RegressionTaskBatch(x[:, :num_support], y[:, :num_support], x[:, num_support:], y[:, num_support:], kind, parameters)


def _midpoints(low: float, high: float, count: int) -> torch.Tensor:
    step = (high - low) / count
    return low + step * (torch.arange(count, dtype=torch.float64) + 0.5)


class BayesOptimal:
    """The exact posterior predictive of a family, by quadrature on a ``grid`` x ``grid`` mesh per family.

    Every prior here is uniform on a rectangle, so the midpoint rule gives each grid point
    the same prior mass; the mixture family gives each of its two halves probability 1/2.
    Computation is in float32 (it agrees with float64 to about 1e-5 and is three times faster;
    ``dtype=torch.float64`` to check), a few tasks at a time.
    """

    def __init__(self, family: str = "sinusoid", noise_sd: float = NOISE_SD, grid: int = 100,
                 dtype: torch.dtype = torch.float32):
        if family not in FAMILIES:
            raise ValueError(f"unknown family {family!r}; choose one of {FAMILIES}")
        self.noise_sd, self.dtype = noise_sd, dtype
        meshes, kinds, log_prior, self.blocks = [], [], [], []
        members = {"sinusoid": [SINUSOID], "line": [LINE], "sinusoid_or_line": [SINUSOID, LINE]}[family]
        for kind in members:
            first, second = (AMPLITUDE_RANGE, PHASE_RANGE) if kind == SINUSOID else (SLOPE_RANGE, INTERCEPT_RANGE)
            mesh = torch.cartesian_prod(_midpoints(*first, grid), _midpoints(*second, grid)).to(dtype)  # [grid^2, 2]
            self.blocks.append((kind, sum(len(m) for m in meshes), sum(len(m) for m in meshes) + len(mesh)))
            meshes.append(mesh)
            kinds.append(torch.full((len(mesh),), kind))
            log_prior.append(torch.full((len(mesh),), -math.log(len(mesh) * len(members)), dtype=dtype))
        self.points = torch.cat(meshes)        # [G, 2]
        self.kinds = torch.cat(kinds)          # [G]
        self.log_prior = torch.cat(log_prior)  # [G], sums to one in probability

    def functions(self, x: torch.Tensor) -> torch.Tensor:
        """f_g(x) for every grid point: x [T, M] -> [T, G, M]."""
        x = x.to(self.dtype).unsqueeze(1)  # [T, 1, M]
        return torch.cat([(sinusoid if kind == SINUSOID else line)(self.points[start:stop].unsqueeze(0), x)
                          for kind, start, stop in self.blocks], dim=1)

    def _tasks_per_chunk(self, num_points: int) -> int:
        """Tasks per computation, so that a [T, G, M] tensor stays near 8 to 16 MB."""
        return max(1, 2_000_000 // (len(self.points) * max(num_points, 1)))

    def log_posterior(self, x_support: torch.Tensor, y_support: torch.Tensor) -> torch.Tensor:
        """Normalised log posterior weights of the grid points: [B, K, 1] inputs -> [B, G]."""
        size = self._tasks_per_chunk(x_support.shape[1])
        return torch.cat([self._log_posterior(x, y) for x, y in zip(x_support.split(size), y_support.split(size))])

    def _log_posterior(self, x_support: torch.Tensor, y_support: torch.Tensor) -> torch.Tensor:
        log_weights = self.log_prior.unsqueeze(0).expand(len(x_support), -1)
        if x_support.shape[1] > 0:
            residuals = y_support.to(self.dtype).squeeze(-1).unsqueeze(1) - self.functions(x_support.squeeze(-1))
            log_weights = log_weights - 0.5 * (residuals / self.noise_sd).square().sum(-1)
        return log_weights - log_weights.logsumexp(-1, keepdim=True)

    def mode_probabilities(self, x_support: torch.Tensor, y_support: torch.Tensor) -> torch.Tensor:
        """Posterior probability of each kind, [B, 2]: column SINUSOID, column LINE."""
        weights = self.log_posterior(x_support, y_support).exp()
        return torch.stack([weights[:, self.kinds == kind].sum(-1) for kind in (SINUSOID, LINE)], dim=1).float()

    def predict(self, x_support: torch.Tensor, y_support: torch.Tensor, x_query: torch.Tensor,
                y_query: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """The posterior predictive at the query inputs.

        Args:
            x_support, y_support: [B, K, 1]. x_query: [B, M, 1]. y_query: [B, M, 1] or None.

        Returns (float32) mean and variance [B, M], and, when y_query is given, [B, M] each:
            log_prob: the log predictive density of y_query;
            cdf: the predictive probability of a value at most y_query (its probability
                integral transform: uniform on [0, 1] for a calibrated predictor, so y_query lies
                in the central 90% interval exactly when 0.05 <= cdf <= 0.95).
        """
        parts, size = [], self._tasks_per_chunk(max(x_support.shape[1], x_query.shape[1]))
        for start in range(0, len(x_support), size):
            chunk = slice(start, start + size)
            parts.append(self._predict(x_support[chunk], y_support[chunk], x_query[chunk],
                                       None if y_query is None else y_query[chunk]))
        return {key: torch.cat([part[key] for part in parts]).float() for key in parts[0]}

    def _predict(self, x_support, y_support, x_query, y_query) -> dict[str, torch.Tensor]:
        log_weights = self._log_posterior(x_support, y_support).unsqueeze(-1)  # [T, G, 1]
        means = self.functions(x_query.squeeze(-1))                            # [T, G, M]
        weights = log_weights.exp()
        mean = (weights * means).sum(1)
        variance = (weights * (means - mean.unsqueeze(1)).square()).sum(1) + self.noise_sd ** 2
        out = {"mean": mean, "variance": variance}
        if y_query is not None:
            z = (y_query.to(self.dtype).squeeze(-1).unsqueeze(1) - means) / self.noise_sd
            log_normal = -0.5 * z.square() - math.log(self.noise_sd * math.sqrt(2 * math.pi))
            out["log_prob"] = (log_weights + log_normal).logsumexp(1)
            out["cdf"] = (weights * torch.special.ndtr(z)).sum(1)
        return out

    def quantiles(self, x_support: torch.Tensor, y_support: torch.Tensor, x: torch.Tensor,
                  levels: tuple[float, ...] = (0.05, 0.95)) -> torch.Tensor:
        """Predictive quantiles at x [B, M, 1]: [len(levels), B, M], by bisection on the mixture's CDF.

        About 40 passes over the grid per level: meant for the few tasks of a plot, not for metrics
        (``predict``'s ``cdf`` gives interval coverage and calibration in one pass).
        """
        out = []
        for level in levels:
            parts = []
            size = self._tasks_per_chunk(max(x_support.shape[1], x.shape[1]))
            for start in range(0, len(x_support), size):
                chunk = slice(start, start + size)
                weights = self._log_posterior(x_support[chunk], y_support[chunk]).exp().unsqueeze(-1)
                means = self.functions(x[chunk].squeeze(-1))
                low = means.min(1).values - 8 * self.noise_sd
                high = means.max(1).values + 8 * self.noise_sd
                for _ in range(40):  # the bracket shrinks below 1e-10 of its width
                    middle = (low + high) / 2
                    below = (weights * torch.special.ndtr((middle.unsqueeze(1) - means) / self.noise_sd)).sum(1) < level
                    low, high = torch.where(below, middle, low), torch.where(below, high, middle)
                parts.append((low + high) / 2)
            out.append(torch.cat(parts))
        return torch.stack(out).float()

    def sample_functions(self, x_support: torch.Tensor, y_support: torch.Tensor, x: torch.Tensor, num_samples: int,
                         generator: torch.Generator | None = None) -> torch.Tensor:
        """Noise-free functions drawn from the posterior, evaluated at x [B, M, 1]: [B, S, M]."""
        weights = self.log_posterior(x_support, y_support).exp()
        chosen = torch.multinomial(weights, num_samples, replacement=True, generator=generator)  # [B, S]
        parameters, kinds = self.points[chosen], self.kinds[chosen]                            # [B, S, 2], [B, S]
        grid = x.to(self.dtype).squeeze(-1).unsqueeze(1)                                         # [B, 1, M]
        return torch.where((kinds == SINUSOID).unsqueeze(-1), sinusoid(parameters, grid), line(parameters, grid)).float()
