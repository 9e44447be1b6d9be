"""Held-out evaluation of any hw3 model, next to the Bayes-optimal predictor (provided).

Every regression model has ``predict(x_support, y_support, x_query, y_query)``
returning mean, variance, log_prob and cdf [B, M], as ``data.regression.BayesOptimal``
does, so one function measures them all.
"""
from __future__ import annotations

import functools

import torch

from data.attributes import AmbiguousAttributes, all_attribute_vectors, concept_labels, features
from data.regression import LINE, X_RANGE, BayesOptimal, RegressionTaskBatch, RegressionTasks
from hw3.metrics import interval_coverage, mode_coverage, quantile_calibration_error, reliability

TEST_SEED, VALIDATION_SEED = 20_000, 10_000


def regression_metrics(predictive: dict[str, torch.Tensor], y_query: torch.Tensor) -> dict[str, float]:
    """NLL and MSE per query point, 90% interval coverage and quantile calibration error."""
    return {"nll": -predictive["log_prob"].mean().item(),
            "mse": (predictive["mean"] - y_query.squeeze(-1)).square().mean().item(),
            "coverage90": interval_coverage(predictive["cdf"], 0.9),
            "calibration": quantile_calibration_error(predictive["cdf"])}


def regression_tasks(family: str, num_support: int, num_tasks: int, num_query: int, seed: int) -> RegressionTaskBatch:
    """The held-out tasks of one evaluation: the same for every model, whatever else ran before."""
    return RegressionTasks(family, seed=seed + num_support).sample(num_tasks, num_support, num_query)


@functools.lru_cache(maxsize=None)
def optimum_metrics(family: str, num_support: int, num_tasks: int, num_query: int, seed: int) -> dict[str, float]:
    """The Bayes-optimal predictor's metrics on those tasks, computed once per process."""
    tasks = regression_tasks(family, num_support, num_tasks, num_query, seed)
    predictive = BayesOptimal(family).predict(tasks.x_support, tasks.y_support, tasks.x_query, tasks.y_query)
    return regression_metrics(predictive, tasks.y_query)


def evaluate_regression(model, family: str, num_support: int, num_tasks: int = 500, num_query: int = 50,
                        seed: int = TEST_SEED, chunk: int = 25) -> dict[str, dict]:
    """The model's metrics and the Bayes-optimal predictor's on ``num_tasks`` seeded tasks."""
    tasks = regression_tasks(family, num_support, num_tasks, num_query, seed)
    predictive = _in_chunks(model.predict, (tasks.x_support, tasks.y_support, tasks.x_query, tasks.y_query), chunk)
    return {"model": regression_metrics(predictive, tasks.y_query),
            "optimum": optimum_metrics(family, num_support, num_tasks, num_query, seed)}


def function_kinds(functions: torch.Tensor, x: torch.Tensor, threshold: float = 0.9) -> torch.Tensor:
    """Whether each sampled function looks like a line: the R^2 of its least-squares line fit exceeds
    ``threshold`` (a sinusoid over [-5, 5] spans more than one period, and no line fits it). [..., M] -> bool [...]."""
    centered_x = x - x.mean()
    centered = functions - functions.mean(-1, keepdim=True)
    slope = (centered * centered_x).sum(-1, keepdim=True) / centered_x.square().sum()
    residual = (centered - slope * centered_x).square().sum(-1)
    return 1 - residual / centered.square().sum(-1).clamp_min(1e-12) > threshold


def line_or_sinusoid(model, num_support: int = 2, num_tasks: int = 500, num_samples: int = 10,
                     seed: int = TEST_SEED) -> dict:
    """Whether a model's sampled functions represent the ambiguity of sinusoid_or_line tasks.

    On the tasks where the optimum's P(line | D) is between 0.2 and 0.8, ``both_kinds`` is the fraction whose
    ``num_samples`` sampled functions (``model.sample_functions`` on 100 points of [-5, 5]) include at least one
    line and at least one function that is not a line. Also returned: the tasks, P(line | D) [B], the
    ambiguous mask [B], the grid x [1, 100, 1] and the samples [B, S, 100], for plots.
    """
    tasks = regression_tasks("sinusoid_or_line", num_support, num_tasks, 50, seed)
    optimum = BayesOptimal("sinusoid_or_line")
    p_line = optimum.log_posterior(tasks.x_support, tasks.y_support).exp()[:, optimum.kinds == LINE].sum(1)
    ambiguous = (p_line > 0.2) & (p_line < 0.8)
    x = torch.linspace(*X_RANGE, 100).view(1, -1, 1)
    grid = x.expand(num_tasks, -1, -1)
    generator = torch.Generator().manual_seed(0)
    samples = torch.cat([model.sample_functions(tasks.x_support[s:s + 50], tasks.y_support[s:s + 50], grid[s:s + 50],
                                                num_samples, generator) for s in range(0, num_tasks, 50)])
    lines = function_kinds(samples, x[0, :, 0])
    both = (lines.any(1) & (~lines).any(1))[ambiguous].float().mean().item()
    return {"both_kinds": both, "ambiguous_tasks": int(ambiguous.sum()), "tasks": tasks, "p_line": p_line,
            "ambiguous": ambiguous, "x": x, "samples": samples}


def evaluate_classification(model, num_support: int = 1, num_tasks: int = 500, num_query: int = 20,
                            seed: int = TEST_SEED) -> dict[str, float]:
    """Accuracy, NLL, ECE (15 bins) and mode coverage of a particle model on ambiguous attribute tasks.

    The Bayes-optimal predictor here knows the three consistent concepts and averages them: it predicts
    0, 1/3, 2/3 or 1. Its accuracy and NLL are reported alongside.
    """
    tasks = AmbiguousAttributes(seed=seed + num_support).sample(num_tasks, num_support, num_query)
    predictive = _in_chunks(model.predict, (tasks.x_support, tasks.y_support, tasks.x_query, tasks.y_query), 25)
    probability = predictive["probability"]
    labels = tasks.y_query.squeeze(-1)
    calibration = reliability(probability, labels)
    attributes = (tasks.x_query > 0).float()
    optimal = concept_labels(attributes, tasks.consistent).mean(-1)  # [B, M]: the fraction of concepts that say 1
    optimal_correct = torch.where(labels == 1, optimal, 1 - optimal)
    probes = all_attribute_vectors().expand(num_tasks, -1, -1)  # every noise-free example, [B, 256, A]
    hypotheses = (model.particle_outputs(tasks.x_support, tasks.y_support, features(probes)) > 0).float()
    concepts = concept_labels(probes, tasks.consistent).transpose(1, 2)  # [B, 3, 256]
    return {"accuracy": ((probability >= 0.5).float() == labels).float().mean().item(),
            "nll": -predictive["log_prob"].mean().item(),
            "ece": calibration["ece"].item(),
            "mode_coverage": mode_coverage(hypotheses, concepts).mean().item(),
            "optimum_accuracy": torch.maximum(optimal, 1 - optimal).mean().item(),
            "optimum_nll": -optimal_correct.clamp_min(1e-6).log().mean().item(),
            "reliability": {key: value.tolist() for key, value in calibration.items() if key != "ece"}}


def _in_chunks(predict, tensors: tuple[torch.Tensor, ...], chunk: int) -> dict[str, torch.Tensor]:
    parts = [predict(*(t[start:start + chunk] for t in tensors)) for start in range(0, len(tensors[0]), chunk)]
    return {key: torch.cat([part[key] for part in parts]) for key in parts[0]}
