"""Public tests of going further: MAML++ (hw2/mamlpp.py): the per-step inner loop, the multi-step loss, the accuracy."""
import pytest
import torch
from gradescope_utils.autograder_utils.decorators import number, weight

import hw2_probes
from hw2_checks import assert_gradients_close
from hw2_accuracy import assert_checkpoint_accuracy

pytestmark = pytest.mark.part("mamlpp")


@weight(1)
@number("9.1")
def test_mamlpp_steps_with_per_step_rates_and_batch_norm(impl, evaluator):
    """adapt_steps keeps every step's parameters: entry 0 the network's own, entry s stepped with each tensor's rate
    for step s and batch norm's tensors of step s (never adapted); the support accuracy of each entry"""
    for num_steps in (1, 3):
        got = impl.call(hw2_probes.mamlpp_adapt, seed=90, num_inner_steps=num_steps)
        expected = evaluator.call(hw2_probes.mamlpp_trajectory_by_hand, seed=90, num_inner_steps=num_steps)
        assert len(got["trajectory"]) == num_steps + 1, \
            f"{num_steps} inner step(s): expected {num_steps + 1} entries (the start, then one per step), got {len(got['trajectory'])}"
        assert got["first_is_own"], "entry 0 must be the network's own parameters (not copies)"
        for step, (entry, want) in enumerate(zip(got["trajectory"], expected["trajectory"])):
            assert set(entry) == set(want), f"entry {step}: expected the names {sorted(want)}, got {sorted(entry)}"
            for name, tensor in want.items():
                hint = ("batch norm's tensors after s steps are row s - 1 of step_norms" if name.startswith("norm")
                        else "step s uses inner_lrs[name][s], the rate of that tensor for that step")
                torch.testing.assert_close(entry[name], tensor, rtol=1e-4, atol=1e-6,
                                           msg=f"{name} after {step} of {num_steps} inner step(s): {hint}")
        torch.testing.assert_close(got["accuracies"], expected["accuracies"],
                                   msg="the support accuracies: before each step, then after the last")
        assert got["keeps_graph"], "in training mode every entry must stay a differentiable function of the meta-parameters"


@weight(1)
@number("9.2")
def test_mamlpp_multi_step_loss_and_its_meta_gradient(impl, evaluator):
    """the loss weights the query loss after every step (uniformly at first, then towards the last step as
    training goes on), and its meta-gradient reaches the initialisation, the rates and the per-step batch norm"""
    for outer_steps in (0, 5, 10):
        got = impl.call(hw2_probes.mamlpp_loss, seed=92, outer_steps=outer_steps)
        expected = evaluator.call(hw2_probes.mamlpp_expected, seed=92, outer_steps=outer_steps)
        torch.testing.assert_close(got["loss"], expected["loss"], rtol=1e-4, atol=1e-6,
                                   msg=f"the loss at outer step {outer_steps} of 10 annealing steps: the query loss "
                                       "after each step s, weighted by step_weights()[s - 1], averaged over the tasks")
        assert_gradients_close(got["gradients"], expected["gradients"], f"meta-gradient (outer step {outer_steps})",
                               "differentiate through every inner step (create_graph), with each step's rates and norms")


@weight(2)
@number("9.3")
def test_mamlpp_5way_1shot_accuracy(evaluator, impl_root, grader_seed):
    """mamlpp_K1_N5.pt: 5-way 1-shot test accuracy"""
    assert_checkpoint_accuracy(evaluator, impl_root, "mamlpp", 5, 1, grader_seed)
