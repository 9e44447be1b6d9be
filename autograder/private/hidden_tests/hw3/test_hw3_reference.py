"""Hidden tests of hw3: values and gradients against the reference solution, on seeded inputs."""
import torch
from gradescope_utils.autograder_utils.decorators import number, visibility, weight

import hw3_probes


def assert_same(got: dict, want: dict, what: str, rtol: float = 1e-4, atol: float = 1e-5) -> None:
    for name, tensor in want.items():
        if isinstance(tensor, dict):
            assert_same(got.get(name) or {}, tensor, f"{what}, {name}", rtol, atol)
            continue
        if not isinstance(tensor, torch.Tensor):
            continue
        assert got.get(name) is not None, f"{what}: {name} is missing"
        scale = tensor.abs().max().item() if tensor.numel() else 0.0
        torch.testing.assert_close(got[name], tensor, rtol=rtol, atol=atol * max(scale, 1.0),
                                   msg=f"{what}: {name} differs from the reference")


@weight(2)
@number("6.1")
@visibility("after_due_date")
def test_distributions_match_the_reference(impl, reference):
    """log-likelihood, KL, reparameterized samples and mixtures, with their gradients, equal the reference's"""
    generator = torch.Generator().manual_seed(61)
    y, mean, raw = (torch.randn(3, 7, generator=generator) for _ in range(3))
    cases = [("gaussian_log_likelihood", {"y": y, "mean": mean, "variance": raw.exp()}),
             ("gaussian_kl", {"mean": mean, "log_variance": raw}),
             ("mixture_log_likelihood", {"log_likelihoods": 3 * y})]
    for name, inputs in cases:
        assert_same(impl.call(hw3_probes.distribution, name, inputs), reference.call(hw3_probes.distribution, name, inputs), name)
    got = impl.call(hw3_probes.reparameterized, mean, raw, num_samples=4, seed=62)
    want = reference.call(hw3_probes.reparameterized, mean, raw, num_samples=4, seed=62)
    assert_same(got, want, "reparameterize (draw epsilon with one torch.randn of shape [S, ..., Z])")


@weight(2)
@number("6.2")
@visibility("after_due_date")
def test_cnp_and_elbo_match_the_reference(impl, reference):
    """CNP predictive, loss and gradients; the ELBO and its gradients, on seeded models and tasks"""
    assert_same(impl.call(hw3_probes.cnp_outputs, seed=63), reference.call(hw3_probes.cnp_outputs, seed=63), "CNP")
    assert_same(impl.call(hw3_probes.latent_elbo, seed=64), reference.call(hw3_probes.latent_elbo, seed=64), "ELBO")


@weight(3)
@number("6.3")
@visibility("after_due_date")
def test_particle_methods_match_the_reference(impl, reference):
    """SVGD direction with its gradients; adapted particles after 2 SVGD steps; both meta-losses and their
    meta-gradients (second order, and first order), for regression and classification, whole networks and heads"""
    generator = torch.Generator().manual_seed(65)
    particles, scores = torch.randn(3, 6, 4, generator=generator), torch.randn(3, 6, 4, generator=generator)
    assert_same(impl.call(hw3_probes.svgd, particles, scores), reference.call(hw3_probes.svgd, particles, scores), "svgd_direction")
    options = {"seed": 66, "num_inner_steps": 2, "svgd_steps": True}
    assert_same(impl.call(hw3_probes.particle_adapt, **options), reference.call(hw3_probes.particle_adapt, **options),
                "particles after 2 SVGD steps")
    for svgd_steps, likelihood, first_order in ((True, "gaussian", False), (False, "gaussian", False),
                                                (True, "bernoulli", False), (True, "gaussian", True)):
        options = {"seed": 67, "svgd_steps": svgd_steps, "num_inner_steps": 2, "likelihood": likelihood,
                   "first_order": first_order}
        assert_same(impl.call(hw3_probes.particle_loss, **options), reference.call(hw3_probes.particle_loss, **options),
                    f"{'SVGD' if svgd_steps else 'ensemble'} meta-loss, {likelihood}")
    options = {"seed": 69, "svgd_steps": True, "num_inner_steps": 2, "body_width": 6}
    assert_same(impl.call(hw3_probes.particle_loss, **options), reference.call(hw3_probes.particle_loss, **options),
                "SVGD meta-loss with heads on shared features")


@weight(2)
@number("6.4")
@visibility("after_due_date")
def test_metrics_and_active_learning_match_the_reference(impl, reference):
    """coverage, calibration, reliability and mode coverage on random predictions; the entropy active-learning curve"""
    generator = torch.Generator().manual_seed(68)
    cdf, probabilities = torch.rand(500, generator=generator), torch.rand(400, generator=generator).square()
    labels = (torch.rand(400, generator=generator) < probabilities.sqrt()).float()  # overconfident predictions
    hypotheses = (torch.rand(4, 6, 30, generator=generator) < 0.5).float()
    concepts = hypotheses[:, :3].clone()
    concepts[:, 1, :3] = 1 - concepts[:, 1, :3]
    cases = [("interval_coverage", (cdf, 0.8)), ("quantile_calibration_error", (cdf,)),
             ("reliability", (probabilities, labels, 10)), ("mode_coverage", (hypotheses, concepts, 0.9))]
    for name, args in cases:
        got, want = impl.call(hw3_probes.metric, name, *args), reference.call(hw3_probes.metric, name, *args)
        assert_same(got if isinstance(got, dict) else {"value": got}, want if isinstance(want, dict) else {"value": want}, name)
    got = impl.call(hw3_probes.active_curve, seed=69, strategy="entropy", num_points=5)
    want = reference.call(hw3_probes.active_curve, seed=69, strategy="entropy", num_points=5)
    torch.testing.assert_close(got["curve"], want["curve"], msg="the entropy active-learning curve differs")
