"""data/regression.py: the 1-D task families and their Bayes-optimal predictor."""
import math

import pytest
import torch

from data.regression import LINE, SINUSOID, BayesOptimal, RegressionTasks, line, sinusoid


def test_sampler_follows_the_stated_priors():
    tasks = RegressionTasks("sinusoid_or_line", seed=3).sample(4000, num_support=5, num_query=7)
    assert tasks.x_support.shape == (4000, 5, 1) and tasks.y_query.shape == (4000, 7, 1)
    x = torch.cat([tasks.x_support, tasks.x_query], 1).squeeze(-1)
    y = torch.cat([tasks.y_support, tasks.y_query], 1).squeeze(-1)
    assert x.min() >= -5 and x.max() <= 5
    is_sine = tasks.kind == SINUSOID
    assert 0.45 < is_sine.float().mean() < 0.55, "each task is a sinusoid or a line with probability 1/2"
    amplitude, phase = tasks.parameters[is_sine].T
    assert amplitude.min() >= 0.1 and amplitude.max() <= 5 and phase.min() >= 0 and phase.max() <= math.pi
    slope, intercept = tasks.parameters[~is_sine].T
    assert slope.abs().max() <= 3 and intercept.abs().max() <= 3
    f = torch.where(is_sine.unsqueeze(1), sinusoid(tasks.parameters, x), line(tasks.parameters, x))
    assert abs((y - f).std().item() - 0.3) < 0.01, "observation noise has sd 0.3"
    again = RegressionTasks("sinusoid_or_line", seed=3).sample(4000, num_support=5, num_query=7)
    assert torch.equal(again.y_query, tasks.y_query), "the same seed gives the same tasks"


def test_unknown_family_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown family"):
        RegressionTasks("circle")


def metrics(family: str, num_support: int, num_tasks: int = 200, seed: int = 0) -> tuple[float, float, float]:
    tasks = RegressionTasks(family, seed=seed).sample(num_tasks, num_support, 50)
    out = BayesOptimal(family).predict(tasks.x_support, tasks.y_support, tasks.x_query, tasks.y_query)
    nll = -out["log_prob"].mean().item()
    mse = (out["mean"] - tasks.y_query.squeeze(-1)).square().mean().item()
    coverage = ((out["cdf"] >= 0.05) & (out["cdf"] <= 0.95)).float().mean().item()
    return nll, mse, coverage


def test_bayes_optimal_sinusoid_at_five_shots():
    """NLL about 0.41 per query point, MSE about 0.14, 90% intervals cover 90%."""
    nll, mse, coverage = metrics("sinusoid", 5)
    assert 0.36 < nll < 0.46 and 0.11 < mse < 0.17 and 0.87 < coverage < 0.93, (nll, mse, coverage)


def test_more_support_points_mean_a_sharper_posterior():
    nlls = [metrics("sinusoid", k, num_tasks=60)[0] for k in (1, 5, 10)]
    assert nlls[0] > nlls[1] > nlls[2] > 0.2, nlls  # 0.215 is the noise's own entropy


def test_line_posterior_matches_least_squares_away_from_the_prior_edges():
    """With a flat prior and parameters well inside its box, the posterior of a line is Bayesian linear regression."""
    x = torch.linspace(-4, 4, 8).view(1, 8, 1)
    y = 1.2 * x - 0.7 + 0.3 * torch.randn(1, 8, 1, generator=torch.Generator().manual_seed(0))
    x_query = torch.tensor([[[-5.0], [0.0], [3.0]]])
    out = BayesOptimal("line", grid=300, dtype=torch.float64).predict(x, y, x_query)
    design = torch.cat([x[0], torch.ones(8, 1)], 1).double()
    coefficients = torch.linalg.lstsq(design, y[0].double()).solution
    query_design = torch.cat([x_query[0], torch.ones(3, 1)], 1).double()
    covariance = 0.09 * torch.linalg.inv(design.T @ design)
    torch.testing.assert_close(out["mean"][0].double(), (query_design @ coefficients).squeeze(1), atol=2e-3, rtol=0)
    expected_variance = 0.09 + (query_design @ covariance * query_design).sum(1)
    torch.testing.assert_close(out["variance"][0].double(), expected_variance, atol=2e-3, rtol=0)


def test_mixture_posterior_tells_sinusoids_from_lines_given_enough_points():
    tasks = RegressionTasks("sinusoid_or_line", seed=5).sample(60, 10, 1)
    probabilities = BayesOptimal("sinusoid_or_line").mode_probabilities(tasks.x_support, tasks.y_support)
    torch.testing.assert_close(probabilities.sum(1), torch.ones(60))
    right = probabilities[torch.arange(60), tasks.kind]
    assert (right > 0.9).float().mean() > 0.9, right
    prior = BayesOptimal("sinusoid_or_line").mode_probabilities(torch.zeros(1, 0, 1), torch.zeros(1, 0, 1))
    torch.testing.assert_close(prior, torch.tensor([[0.5, 0.5]]))


def test_quantiles_agree_with_the_predictive_cdf():
    tasks = RegressionTasks("sinusoid_or_line", seed=6).sample(3, 2, 20)
    optimum = BayesOptimal("sinusoid_or_line")
    quantiles = optimum.quantiles(tasks.x_support, tasks.y_support, tasks.x_query, levels=(0.05, 0.5, 0.95))
    for level, quantile in zip((0.05, 0.5, 0.95), quantiles):
        cdf = optimum.predict(tasks.x_support, tasks.y_support, tasks.x_query, quantile.unsqueeze(-1))["cdf"]
        torch.testing.assert_close(cdf, torch.full_like(cdf, level), atol=1e-4, rtol=0)


def test_posterior_samples_pass_near_the_support_points():
    tasks = RegressionTasks("sinusoid", seed=7).sample(5, 10, 0)
    samples = BayesOptimal("sinusoid").sample_functions(tasks.x_support, tasks.y_support, tasks.x_support, 30,
                                                         torch.Generator().manual_seed(0))
    assert samples.shape == (5, 30, 10)
    residual = (samples - tasks.y_support.squeeze(-1).unsqueeze(1)).square().mean().sqrt()
    assert residual < 0.45, f"posterior functions should fit the 10 support points to about the noise, got {residual:.2f}"
