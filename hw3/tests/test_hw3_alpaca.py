"""Public tests of going further: ALPaCA (hw3/alpaca.py): the exact posterior, the evidence, the predictive, the NLL."""
import pytest
import torch
from gradescope_utils.autograder_utils.decorators import number, weight

import hw3_probes
from test_hw3_quality import TRAIN_HINT, regression_quality, submitted_checkpoint

pytestmark = pytest.mark.part("alpaca")

# The reference (the handout's command, 10 minutes, 12,000 steps) on 300 tasks of grader seeds 0-4: 0.417 to 0.433;
# an 8-minute run beside other work: 0.440 to 0.467. With a margin: a prototype of the same model passed a
# validation NLL of 0.44 after 3,000 steps (2 minutes).
ALPACA_NLL = 0.55


def close(got, want, what: str, rtol: float = 1e-3) -> None:
    """Float32 results against float64 ones written out with explicit inverses."""
    want = want.to(got.dtype)
    scale = max(want.abs().max().item(), 1.0)
    torch.testing.assert_close(got, want, rtol=rtol, atol=1e-4 * scale, msg=what)


@weight(1)
@number("8.1")
def test_alpaca_posterior_and_evidence_are_exact(impl, evaluator):
    """posterior equals Bayesian linear regression's mean and precision, and log_evidence the log density of the
    support targets under N(Phi prior_mean, Phi L0^-1 Phi^T + s2 I) (written out with explicit inverses); with no
    support points the posterior is the prior and the evidence 0; the order of the support points does not matter"""
    got = impl.call(hw3_probes.alpaca_outputs, seed=81)
    want = evaluator.call(hw3_probes.alpaca_by_hand, seed=81)
    for name, what in (("mean", "the posterior mean [B, C, W]"), ("precision", "the posterior precision [B, C, W, W]"),
                       ("log_evidence", "log_evidence [B, C]")):
        assert got[name].shape == want[name].shape, f"{what}: got shape {tuple(got[name].shape)}"
        close(got[name], want[name], what)
    empty = impl.call(hw3_probes.alpaca_outputs, seed=81, num_support=0)
    prior = evaluator.call(hw3_probes.alpaca_by_hand, seed=81, num_support=0)
    close(empty["mean"], prior["mean"], "with no support points, the posterior mean is the prior's")
    close(empty["precision"], prior["precision"], "with no support points, the posterior precision is the prior's")
    torch.testing.assert_close(empty["log_evidence"], torch.zeros_like(empty["log_evidence"]), atol=1e-5, rtol=0,
                               msg="with no support points the evidence is 1 (its log 0)")
    shuffled = impl.call(hw3_probes.alpaca_outputs, seed=81, order=[2, 0, 3, 1])
    close(shuffled["mean"], got["mean"], "the posterior mean after reordering the support points", rtol=1e-4)
    close(shuffled["log_evidence"], got["log_evidence"], "the evidence after reordering the support points", rtol=1e-4)


@weight(1)
@number("8.2")
def test_alpaca_predictive_is_the_posterior_predictive(impl, evaluator):
    """components: each component's N(phi . m, s2 + phi^T L^-1 phi) and log weights by Bayes' rule; and, the exact
    posterior's signature, the evidence of K points equals the product of the predictive densities of each point
    given the ones before it (the chain rule of probability)"""
    got = impl.call(hw3_probes.alpaca_outputs, seed=82)
    want = evaluator.call(hw3_probes.alpaca_by_hand, seed=82)
    for name, what in (("means", "the predictive means [C, B, M]"), ("variances", "the predictive variances [C, B, M]"),
                       ("log_weights", "the log weights [C, B]")):
        assert got[name].shape == want[name].shape, f"{what}: got shape {tuple(got[name].shape)}"
        close(got[name], want[name], what)
    chain = impl.call(hw3_probes.alpaca_chain, seed=83, num_support=5)
    close(chain["chain"], chain["evidence"], "sum over k of log p(y_k | points before k) against the log evidence")


@weight(1)
@number("8.3")
def test_alpaca_loss_is_the_query_nll_of_the_mixture(impl, evaluator):
    """loss is minus the log density of each query target under the weighted mixture, averaged over points and
    tasks; the gradients reach the features, the prior, the noise and the components' prior"""
    got = impl.call(hw3_probes.alpaca_outputs, seed=84)
    want = evaluator.call(hw3_probes.alpaca_by_hand, seed=84)
    close(got["loss"], want["loss"], "the loss")
    close(got["metrics"]["noise_sd"], want["noise_sd"], "the metric noise_sd")
    assert set(got["gradients"]) == set(want["gradients"]), \
        f"expected gradients for {sorted(want['gradients'])}, got {sorted(got['gradients'])}"
    for name, gradient in want["gradients"].items():
        close(got["gradients"][name], gradient, f"the gradient of {name}", rtol=2e-3)


@weight(1)
@number("8.4")
def test_alpaca_nll_on_sinusoids(evaluator, impl_root, grader_seed):
    """alpaca_sinusoid.pt: NLL per query point at K=5"""
    quality = regression_quality(evaluator, submitted_checkpoint(impl_root, "alpaca_sinusoid.pt", "sinusoid", "alpaca"),
                                 grader_seed)
    print(f"NLL {quality['nll']:.3f} (threshold {ALPACA_NLL}; the Bayes-optimal predictor: about 0.41), "
          f"90% coverage {quality['coverage']:.3f}")
    assert quality["nll"] <= ALPACA_NLL, f"NLL {quality['nll']:.3f} is above {ALPACA_NLL}: {TRAIN_HINT}"
