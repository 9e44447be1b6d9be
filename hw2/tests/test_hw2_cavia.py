"""Public tests of going further: CAVIA (hw2/cavia.py): the context's inner loop, its meta-gradient, its accuracy."""
import pytest
import torch
from gradescope_utils.autograder_utils.decorators import number, weight

import hw2_probes
from hw2_checks import assert_gradients_close
from hw2_accuracy import assert_checkpoint_accuracy

pytestmark = pytest.mark.part("cavia")


@weight(1)
@number("7.1")
def test_cavia_steps_on_the_context_alone(impl, evaluator):
    """adapt starts the context at zero and takes plain gradient steps on it alone; the weights it returns are
    the network's own; the support accuracy is measured before each step and after the last"""
    for num_steps, inner_lr in ((1, 1.0), (3, 0.3)):
        got = impl.call(hw2_probes.cavia_adapt, seed=70, num_inner_steps=num_steps, inner_lr=inner_lr)
        expected = evaluator.call(hw2_probes.context_steps, seed=70, num_steps=num_steps, inner_lr=inner_lr)
        assert "context" in got["parameters"], "adapt must return the adapted context as parameters['context']"
        weights = [name for name in got["parameters"] if name != "context"]
        copied = [name for name in weights if not got["is_own_tensor"][name]]
        assert not copied, f"{copied}: the weights must be the network's own parameters (not copies, not adapted)"
        torch.testing.assert_close(got["parameters"]["context"], expected["context"], rtol=1e-4, atol=1e-6,
                                   msg=f"the context after {num_steps} inner step(s) (inner_lr={inner_lr}), from zero")
        torch.testing.assert_close(got["accuracies"], expected["accuracies"],
                                   msg=f"the support accuracies of {num_steps} inner step(s): before each step, then after the last")
    assert impl.call(hw2_probes.cavia_adapt, seed=71, train=True)["context_keeps_graph"], \
        "in training mode the adapted context must stay a differentiable function of the meta-parameters"


@weight(1)
@number("7.2")
def test_cavia_meta_gradient_reaches_the_weights_through_the_context(impl, evaluator):
    """the meta-gradient of every shared weight differentiates through the context's inner step (second order by
    default); with first_order=True the adapted context is a constant"""
    for first_order in (False, True):
        got = impl.call(hw2_probes.cavia_loss, seed=72, first_order=first_order)["gradients"]
        expected = evaluator.call(hw2_probes.cavia_meta_gradient, seed=72, first_order=first_order)
        assert_gradients_close(got, expected, ("first-order" if first_order else "second-order") + " meta-gradient",
                               "step the context with create_graph as in MAML")


@weight(2)
@number("7.3")
def test_cavia_5way_1shot_accuracy(evaluator, impl_root, grader_seed):
    """cavia_K1_N5.pt: 5-way 1-shot test accuracy"""
    assert_checkpoint_accuracy(evaluator, impl_root, "cavia", 5, 1, grader_seed)
