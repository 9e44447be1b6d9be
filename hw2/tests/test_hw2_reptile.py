"""Public tests of going further: Reptile (hw2/reptile.py): the Reptile loss, its gradient, its accuracy."""
import pytest
import torch
from gradescope_utils.autograder_utils.decorators import number, weight

import hw2_probes
from hw2_checks import assert_gradients_close
from hw2_accuracy import assert_checkpoint_accuracy

pytestmark = pytest.mark.part("reptile")


@weight(1)
@number("6.1")
def test_reptile_gradient_points_from_the_fitted_weights_to_the_initialisation(impl, evaluator):
    """the gradient of the Reptile loss is theta - phi averaged over tasks, where phi fits all of a task's images
    (support and query) by plain gradient steps; nothing is differentiated through the fit"""
    for num_steps, inner_lr in ((1, 0.4), (3, 0.1)):
        got = impl.call(hw2_probes.reptile_loss, seed=60, num_inner_steps=num_steps, inner_lr=inner_lr)
        expected = evaluator.call(hw2_probes.reptile_expected, seed=60, num_inner_steps=num_steps, inner_lr=inner_lr)
        assert_gradients_close(got["gradients"], expected["gradients"], f"gradient ({num_steps} inner step(s) of {inner_lr})",
                               "it should be theta - phi, averaged over the tasks, with phi fitted to the support and "
                               "query images and detached", atol_scale=1e-4)


@weight(1)
@number("6.2")
def test_reptile_loss_and_metrics(impl, evaluator):
    """loss(batch) returns the mean over tasks of 1/2 ||theta - phi||^2, and the accuracies before and after the
    fit and on the query images"""
    got = impl.call(hw2_probes.reptile_loss, seed=61, num_way=4, num_support=2, num_inner_steps=2)
    expected = evaluator.call(hw2_probes.reptile_expected, seed=61, num_way=4, num_support=2, num_inner_steps=2)
    assert got["loss"].shape == (), f"the loss should be a scalar, got shape {tuple(got['loss'].shape)}"
    torch.testing.assert_close(got["loss"], expected["loss"], rtol=1e-3, atol=1e-7,
                               msg="the Reptile loss: 1/2 * the sum over parameter tensors of ||theta - phi||^2, "
                                   "averaged over the tasks")
    assert set(got["metrics"]) == set(expected["metrics"]), \
        f"expected the metrics {sorted(expected['metrics'])}, got {sorted(got['metrics'])}"
    for name, value in expected["metrics"].items():
        torch.testing.assert_close(got["metrics"][name], value, msg=f"{name}, averaged over the batch's tasks")


@weight(2)
@number("6.3")
def test_reptile_5way_1shot_accuracy(evaluator, impl_root, grader_seed):
    """reptile_K1_N5.pt: 5-way 1-shot test accuracy"""
    assert_checkpoint_accuracy(evaluator, impl_root, "reptile", 5, 1, grader_seed)
