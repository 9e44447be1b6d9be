"""Public tests of hw3/distributions.py: the Gaussian log-likelihood, KL, reparameterization and mixtures."""
import math

import torch
from gradescope_utils.autograder_utils.decorators import number, weight

import hw3_probes


def seeded(seed: int, *shape) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


@weight(1)
@number("1.1")
def test_gaussian_log_likelihood_is_the_normal_log_density(impl):
    """gaussian_log_likelihood equals torch.distributions.Normal's log_prob, with its gradients"""
    inputs = {"y": seeded(1, 4, 5), "mean": seeded(2, 4, 5), "variance": seeded(3, 4, 5).exp()}
    got = impl.call(hw3_probes.distribution, "gaussian_log_likelihood", inputs)
    want = hw3_probes.with_gradients(lambda y, mean, variance: torch.distributions.Normal(mean, variance.sqrt()).log_prob(y), inputs)
    assert got["value"].shape == (4, 5), f"expected shape (4, 5), got {tuple(got['value'].shape)}"
    for key in want:
        assert got[key] is not None, f"no gradient with respect to {key[2:]}"
        torch.testing.assert_close(got[key], want[key], msg=f"{key} differs from the Normal log density's")


@weight(1)
@number("1.2")
def test_gaussian_kl_is_zero_at_the_prior_and_matches_the_closed_form(impl):
    """gaussian_kl: 0 for N(0, I), torch.distributions' KL otherwise, summed over the last dimension"""
    zero = impl.call(hw3_probes.distribution, "gaussian_kl", {"mean": torch.zeros(2, 3), "log_variance": torch.zeros(2, 3)})
    torch.testing.assert_close(zero["value"], torch.zeros(2), msg="KL(N(0, I) || N(0, I)) should be 0 for each row")
    # Any leading dimensions: [2, 3, Z] -> [2, 3]; per dimension (v + m^2 - 1 - log v) / 2 = (1 + 1 - 1) / 2 at m = 1, v = 1.
    batched = impl.call(hw3_probes.distribution, "gaussian_kl", {"mean": torch.ones(2, 3, 4), "log_variance": torch.zeros(2, 3, 4)})
    torch.testing.assert_close(batched["value"], torch.full((2, 3), 2.0), msg="[2, 3, 4] inputs: one KL of 4 * 0.5 per pair")
    inputs = {"mean": seeded(4, 3, 6), "log_variance": seeded(5, 3, 6)}
    got = impl.call(hw3_probes.distribution, "gaussian_kl", inputs)

    def closed_form(mean, log_variance):
        q = torch.distributions.Normal(mean, (0.5 * log_variance).exp())
        return torch.distributions.kl_divergence(q, torch.distributions.Normal(0.0, 1.0)).sum(-1)

    want = hw3_probes.with_gradients(closed_form, inputs)
    assert got["value"].shape == (3,), f"expected one KL per row, shape (3,), got {tuple(got['value'].shape)}"
    for key in want:
        torch.testing.assert_close(got[key], want[key], msg=f"{key} differs from the analytic KL's")


@weight(2)
@number("1.3")
def test_reparameterized_samples_are_seeded_differentiable_and_have_the_right_moments(impl):
    """reparameterize: shape [S, ..., Z], same seed same samples, mean and variance right, gradients flow"""
    mean, log_variance = torch.tensor([[1.0, -2.0, 0.5]]), torch.tensor([[0.0, math.log(4.0), math.log(0.25)]])
    got = impl.call(hw3_probes.reparameterized, mean, log_variance, num_samples=20_000, seed=3)
    samples = got["samples"]
    assert samples.shape == (20_000, 1, 3), f"expected samples of shape (20000, 1, 3), got {tuple(samples.shape)}"
    assert torch.equal(samples, got["again"]), "the same generator seed should give the same samples"
    torch.testing.assert_close(samples.mean(0), mean, atol=0.05, rtol=0, msg="the samples' mean is wrong")
    torch.testing.assert_close(samples.var(0), log_variance.exp(), atol=0.0, rtol=0.05, msg="the samples' variance is wrong")
    torch.testing.assert_close(got["d_mean"], torch.full((1, 3), 20_000.0), msg="d(sum of samples)/d(mean) should be S")
    expected = 0.5 * (samples - mean).sum(0)  # d/d(log_variance) of mean + exp(log_variance / 2) * epsilon
    torch.testing.assert_close(got["d_log_variance"], expected, rtol=1e-3, atol=1e-2,
                               msg="the gradient with respect to log_variance is wrong: sample as mean + sd * epsilon")


@weight(1)
@number("1.4")
def test_mixture_log_likelihood_is_stable(impl):
    """mixture_log_likelihood: log of the mean of the likelihoods, even where they underflow"""
    inputs = {"log_likelihoods": seeded(6, 5, 2, 3)}
    got = impl.call(hw3_probes.distribution, "mixture_log_likelihood", inputs)
    want = hw3_probes.with_gradients(lambda log_likelihoods: log_likelihoods.double().exp().mean(0).log().float(), inputs)
    for key in want:
        torch.testing.assert_close(got[key], want[key], msg=f"{key} differs from log(mean(exp(.)))")
    tiny = impl.call(hw3_probes.distribution, "mixture_log_likelihood", {"log_likelihoods": torch.tensor([[-1000.0], [-1001.0]])})
    torch.testing.assert_close(tiny["value"], torch.tensor([-1000.0 + math.log((1 + math.exp(-1)) / 2)]),
                               msg="log likelihoods of -1000 underflow when exponentiated: use logsumexp")
    along = impl.call(hw3_probes.distribution, "mixture_log_likelihood", inputs, dim=1)
    assert along["value"].shape == (5, 3), f"with dim=1 the result should be (5, 3), got {tuple(along['value'].shape)}"
