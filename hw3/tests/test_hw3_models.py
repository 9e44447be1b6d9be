"""Public tests of hw3/cnp.py, hw3/latent.py and hw3/particles.py."""
import math

import torch
from gradescope_utils.autograder_utils.decorators import number, weight

import hw3_probes
from harness.plugin import received


def gaussian_nll(y, mean, variance):
    return 0.5 * ((y - mean).square() / variance + variance.log() + math.log(2 * math.pi))


@weight(2)
@number("2.1")
def test_cnp_predicts_a_gaussian_per_query_point_whatever_the_support_order(impl):
    """CNP forward: mean and positive variance [B, M]; shuffling the support set, or giving each pair twice,
    changes nothing"""
    got = impl.call(hw3_probes.cnp_outputs, seed=1)
    assert got["mean"].shape == (3, 6) and got["variance"].shape == (3, 6), \
        f"expected mean and variance of shape (3, 6), got {tuple(got['mean'].shape)} and {tuple(got['variance'].shape)}"
    assert (got["variance"] > 0).all(), "variances must be positive: use gaussian_head"
    shuffled = impl.call(hw3_probes.cnp_outputs, seed=1, order=[2, 0, 3, 1])
    torch.testing.assert_close(shuffled["mean"], got["mean"], msg="the support order changed the prediction: average the embeddings")
    torch.testing.assert_close(shuffled["variance"], got["variance"], msg="the support order changed the variance")
    doubled = impl.call(hw3_probes.cnp_outputs, seed=1, order=[0, 1, 2, 3, 0, 1, 2, 3])
    torch.testing.assert_close(doubled["mean"], got["mean"], msg="each support pair given twice changed the prediction: "
                                                                 "average the embeddings (a mean, not a sum)")


@weight(2)
@number("2.2")
def test_cnp_loss_is_the_query_negative_log_likelihood(impl):
    """CNP loss: the mean Gaussian NLL of the query targets under forward's predictive, with gradients everywhere"""
    got = impl.call(hw3_probes.cnp_outputs, seed=2)
    y_query = hw3_probes.regression_tasks(2).y_query.squeeze(-1)
    expected = gaussian_nll(y_query, got["mean"], got["variance"]).mean()
    torch.testing.assert_close(got["loss"], expected, msg="the loss should be the mean NLL of the query targets")
    missing = [name for name, g in got["gradients"].items() if g is None or not g.abs().sum() > 0]
    assert not missing, f"no gradient reached {missing}"


@weight(3)
@number("2.3")
def test_latent_elbo_is_expected_log_likelihood_minus_kl(impl, evaluator):
    """ELBO: the seeded-sample estimate of E_q[log p(y_query | z)] minus KL(q || N(0, I)), per query point, with
    the gradients of reparameterized (pathwise) samples"""
    got = impl.call(hw3_probes.latent_elbo, seed=3)
    log_likelihood = -gaussian_nll(got["y_query"].squeeze(-1), got["y_mean"], got["y_variance"]).sum(-1).mean(0)  # [B]
    mean, log_variance = got["posterior_mean"], got["posterior_log_variance"]
    kl = 0.5 * (log_variance.exp() + mean.square() - 1 - log_variance).sum(-1)
    expected = ((log_likelihood - kl) / got["y_query"].shape[1]).mean()
    torch.testing.assert_close(got["elbo"], expected, rtol=1e-4, atol=1e-5,
                               msg="the ELBO differs from the mean over samples of the query log-likelihood, minus the KL, "
                                   "divided by M; draw the samples with reparameterize(..., generator)")
    missing = [name for name, g in got["gradients"].items() if g is None or not g.abs().sum() > 0]
    assert not missing, f"no gradient reached {missing}: the samples must be reparameterized"
    # The same ELBO written out from the provided posterior and decoder, with pathwise samples.
    expected = evaluator.call(hw3_probes.elbo_by_formula, seed=3)["gradients"]
    for name, gradient in expected.items():
        torch.testing.assert_close(got["gradients"][name], gradient, rtol=1e-3, atol=1e-6,
                                   msg=f"the ELBO's gradient of {name} differs from the pathwise gradient: "
                                       "z = mean + sd * epsilon must stay a function of the posterior's outputs")


@weight(3)
@number("3.1")
def test_svgd_direction_attracts_by_the_kernel_and_repels(impl):
    """svgd_direction: one particle follows its score; two nearby particles with no score move apart, as far as the
    median bandwidth says;
    the repulsive term is the gradient of the kernel; the bandwidth is not differentiated"""
    single = impl.call(hw3_probes.svgd, torch.tensor([[[0.3, -0.2]]]), torch.tensor([[[1.5, 2.0]]]))["value"]
    torch.testing.assert_close(single, torch.tensor([[[1.5, 2.0]]]), msg="with one particle the direction is its score")
    same = impl.call(hw3_probes.svgd, torch.zeros(1, 2, 2), torch.ones(1, 2, 2))["value"]
    torch.testing.assert_close(same, torch.ones(1, 2, 2), msg="two particles at one point (median distance 0) follow "
                               "their common score: the bandwidth must stay positive")
    pair = torch.tensor([[[0.0, 0.0], [0.1, 0.0]]])
    apart = impl.call(hw3_probes.svgd, pair, torch.zeros(1, 2, 2))["value"]
    assert apart[0, 0, 0] < 0 < apart[0, 1, 0], f"two particles with zero scores should move apart, got {apart.tolist()}"
    # Known answer: for two particles at distance d, h = d^2 / log 3 (the median of the two ordered pairs),
    # so k = 1/3 and each moves away by (1/2) (2/h) d k = log(3) / (3 d), here with d = 0.1 (h far below 1).
    torch.testing.assert_close(apart, torch.tensor([[[-1.0, 0.0], [1.0, 0.0]]]) * math.log(3) / 0.3, rtol=1e-4, atol=1e-5,
                               msg="two particles 0.1 apart: the median bandwidth h = d^2 / log 3 gives a push of log(3) / (3 d)")

    generator = torch.Generator().manual_seed(31)
    particles, scores = torch.randn(2, 5, 3, generator=generator), torch.randn(2, 5, 3, generator=generator)
    outputs = impl.call(hw3_probes.svgd, particles, scores)
    got = outputs["value"]
    assert got.shape == (2, 5, 3), f"expected a direction of shape (2, 5, 3), got {tuple(got.shape)}"
    # An independent computation: the kernel with the median bandwidth, and grad_{theta_j} k by autograd.
    squared = (particles.unsqueeze(2) - particles.unsqueeze(1)).square().sum(-1)
    bandwidth = (squared[:, ~torch.eye(5, dtype=torch.bool)].median(1).values / math.log(6)).view(-1, 1, 1)
    moving = particles.clone().requires_grad_(True)  # plays theta_j
    kernel = torch.exp(-(moving.unsqueeze(1) - particles.unsqueeze(2)).square().sum(-1) / bandwidth)  # [B, i, j]
    repulsion = torch.stack([torch.autograd.grad(kernel[:, i].sum(), moving, retain_graph=True)[0].sum(1)
                             for i in range(5)], 1)
    expected = (kernel.detach() @ scores + repulsion) / 5
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5, msg="the direction differs from the SVGD formula")
    # Its gradient with respect to the particles, through the kernel but not through the bandwidth (a constant).
    theta = particles.clone().requires_grad_(True)
    kernel = torch.exp(-(theta.unsqueeze(2) - theta.unsqueeze(1)).square().sum(-1) / bandwidth)
    direction = (kernel @ scores + (2 / bandwidth) * (theta * kernel.sum(-1, keepdim=True) - kernel @ theta)) / 5
    d_particles, = torch.autograd.grad((direction * torch.linspace(-1, 2, direction.numel()).view(direction.shape)).sum(), theta)
    torch.testing.assert_close(outputs["d_particles"], d_particles, rtol=1e-4, atol=1e-5,
                               msg="the direction's gradient with respect to the particles is wrong: the bandwidth h is "
                                   "a constant (compute it from detached distances)")


@weight(2)
@number("3.2")
def test_ensemble_inner_step_is_a_gradient_step_per_particle(impl, evaluator):
    """ParticleMAML.adapt without SVGD: one step is particle + step_size(K) * its own score; the initial particles stay"""
    got = impl.call(hw3_probes.particle_adapt, seed=4)
    want = evaluator.call(hw3_probes.one_ensemble_step, seed=4)  # from log_likelihood alone, no adapt
    assert got["particles"].shape == want.shape, f"expected particles {tuple(want.shape)}, got {tuple(got['particles'].shape)}"
    torch.testing.assert_close(got["particles"], want, rtol=1e-4, atol=1e-6, msg="one inner step differs from a gradient step")
    assert got["initial_unchanged"], "adapt modified the meta-parameters in place"
    assert got["keeps_graph"], "while training, the adapted particles must stay functions of the meta-parameters"
    svgd_step = impl.call(hw3_probes.particle_adapt, seed=4, svgd_steps=True)["particles"]
    assert not torch.allclose(svgd_step, want), "with svgd=True the step should follow svgd_direction"


@weight(2)
@number("3.3")
def test_particle_meta_losses(impl, evaluator):
    """SVGD: NLL of the whole query set under the mixture, per point; ensemble: that plus the mean query NLL over
    particles; the meta-gradient reaches the initial particles and the inner rate; first_order drops the
    second-order terms"""
    for svgd_steps in (False, True):
        got = impl.call(hw3_probes.particle_loss, seed=5, svgd_steps=svgd_steps)
        log_likelihood = got["query_log_likelihood"]  # [B, P, M]
        meta_loss = hw3_probes.mixture_meta_loss if svgd_steps else hw3_probes.ensemble_meta_loss
        expected = meta_loss(log_likelihood)
        kind = "SVGD" if svgd_steps else "ensemble"
        torch.testing.assert_close(got["loss"], expected, rtol=1e-4, atol=1e-5, msg=f"the {kind} meta-loss is wrong")
        for name in ("initial", "log_inner_lr"):
            gradient = got["gradients"].get(name)
            assert gradient is not None and gradient.abs().sum() > 0, f"{kind}: no meta-gradient reached {name}"
        heads = impl.call(hw3_probes.particle_loss, seed=5, svgd_steps=svgd_steps, num_inner_steps=2, body_width=6)
        assert heads["query_log_likelihood"].shape == got["query_log_likelihood"].shape, \
            f"{kind} with shared features: expected query log-likelihoods {tuple(got['query_log_likelihood'].shape)}"
        for name in ("initial", "network.features.0.0.weight"):
            gradient = heads["gradients"].get(name)
            assert gradient is not None and gradient.abs().sum() > 0, \
                f"{kind} with shared features (body_width > 0): no meta-gradient reached {name}"
    first = impl.call(hw3_probes.particle_meta_gradient, seed=5, first_order=True)["initial"]
    second = impl.call(hw3_probes.particle_meta_gradient, seed=5, first_order=False)["initial"]
    expected = evaluator.call(hw3_probes.query_gradient_at_adapted_particles, seed=5)
    torch.testing.assert_close(first, expected, rtol=1e-4, atol=1e-6,
                               msg="first_order=True: the meta-gradient of the initial particles should be the query "
                                   "gradient at the adapted particles (no create_graph in the inner steps)")
    assert not torch.allclose(second, expected, rtol=1e-3, atol=1e-6), \
        "first_order=False: the meta-gradient should differentiate through the inner steps (create_graph when training)"


@weight(1)
@number("2.4")
def test_short_cnp_training_lowers_the_nll(impl, evaluator):
    """500 steps of CNP training on sinusoids bring the validation NLL at K=5 below 1.9"""
    trained = impl.call(hw3_probes.short_training, "cnp", steps=500, timeout=120)
    before, after = (received(evaluator.call(hw3_probes.validation_nll, "cnp", state), shape=(), name="the NLL").item()
                     for state in (None, trained))  # judged here: the reference's code on the grader
    print(f"validation NLL: {before:.3f} before, {after:.3f} after 500 steps")
    # A Gaussian that ignores the support set cannot go below about 2.1 on these tasks.
    assert after < 1.9, f"the NLL went from {before:.3f} to {after:.3f}; it should fall below 1.9 (does the model use the support set?)"
