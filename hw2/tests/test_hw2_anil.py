"""Public tests of going further: ANIL (hw2/anil.py): the head-only inner loop, its meta-gradient, its accuracy."""
import pytest
import torch
from gradescope_utils.autograder_utils.decorators import number, weight

import hw2_probes
from hw2_checks import assert_gradients_close
from hw2_accuracy import assert_checkpoint_accuracy

pytestmark = pytest.mark.part("anil")


@weight(1)
@number("4.1")
def test_anil_steps_on_the_head_alone(impl, evaluator):
    """adapt takes plain gradient steps on the head's support loss and returns the body's own tensors, unchanged;
    the support accuracy is measured before each step and after the last"""
    for num_steps, inner_lr in ((1, 0.4), (3, 0.1)):
        got = impl.call(hw2_probes.anil_adapt, seed=40, num_inner_steps=num_steps, inner_lr=inner_lr)
        expected = evaluator.call(hw2_probes.head_steps, seed=40, num_steps=num_steps, inner_lr=inner_lr)
        assert set(got["parameters"]) == set(expected["parameters"]), \
            f"expected the names {sorted(expected['parameters'])}, got {sorted(got['parameters'])}"
        body = [name for name in expected["parameters"] if not name.startswith("head_")]
        copied = [name for name in body if not got["is_own_tensor"][name]]
        assert not copied, f"{copied}: the body's entries must be the network's own parameters (not copies, not adapted)"
        for name, tensor in expected["parameters"].items():
            torch.testing.assert_close(got["parameters"][name], tensor, rtol=1e-4, atol=1e-6,
                                       msg=f"{name} after {num_steps} inner step(s) (inner_lr={inner_lr})")
        torch.testing.assert_close(got["accuracies"], expected["accuracies"],
                                   msg=f"the support accuracies of {num_steps} inner step(s): before each step, then after the last")
    trained = impl.call(hw2_probes.anil_adapt, seed=41, train=True)
    assert trained["keeps_graph"]["head_weight"] and trained["keeps_graph"]["head_bias"], \
        "in training mode the adapted head must stay a differentiable function of the meta-parameters"


@weight(1)
@number("4.2")
def test_anil_meta_gradient_reaches_the_body_through_the_inner_step(impl, evaluator):
    """the meta-gradient of every parameter, the body's included, differentiates through the head's inner step
    (second order by default); with first_order=True the adapted head is a constant"""
    for first_order in (False, True):
        got = impl.call(hw2_probes.anil_loss, seed=42, first_order=first_order)["gradients"]
        expected = evaluator.call(hw2_probes.anil_meta_gradient, seed=42, first_order=first_order)
        assert_gradients_close(got, expected, ("first-order" if first_order else "second-order") + " meta-gradient",
                               "compute the support features once, step the head with create_graph as in MAML")


@weight(2)
@number("4.3")
def test_anil_5way_1shot_accuracy(evaluator, impl_root, grader_seed):
    """anil_K1_N5.pt: 5-way 1-shot test accuracy"""
    assert_checkpoint_accuracy(evaluator, impl_root, "anil", 5, 1, grader_seed)
