"""Held-out evaluation of any hw3 model, next to the Bayes-optimal predictor (provided).

Every regression model has ``predict(x_support, y_support, x_query, y_query)``
returning mean, variance, log_prob and cdf [B, M], as ``data.regression.BayesOptimal``
does, so one function measures them all.
"""
from __future__ import annotations

import functools

import torch

from data.attributes import AmbiguousAttributes, all_attribute_vectors, concept_labels, features
from data.regression import BayesOptimal, RegressionTaskBatch, RegressionTasks
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
