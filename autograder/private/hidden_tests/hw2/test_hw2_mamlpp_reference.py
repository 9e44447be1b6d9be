"""Hidden tests of going further: MAML++, against the reference on seeded inputs."""
import pytest
import torch
from gradescope_utils.autograder_utils.decorators import number, visibility, weight

import hw2_probes
from test_hw2_reference import assert_same_gradients, assert_same_tensors

pytestmark = pytest.mark.part("mamlpp")


@weight(1)
@number("9.4")
@visibility("after_due_date")
def test_mamlpp_matches_the_reference(impl, reference):
    """5-way 2-shot, 3 inner steps: the trajectory, and the loss, metrics and meta-gradients, second and first
    order, midway through the annealing, equal the reference's"""
    got = impl.call(hw2_probes.mamlpp_adapt, seed=94, num_way=5, num_inner_steps=3)
    want = reference.call(hw2_probes.mamlpp_adapt, seed=94, num_way=5, num_inner_steps=3)
    for step, (entry, expected) in enumerate(zip(got["trajectory"], want["trajectory"])):
        assert_same_tensors(entry, expected, f"entry {step} of the trajectory")
    assert_same_tensors(got, {"accuracies": want["accuracies"]}, "adapt_steps")
    for first_order in (False, True):
        options = {"seed": 95, "outer_steps": 3, "num_way": 5, "num_support": 2, "num_query": 3, "num_inner_steps": 3,
                   "first_order": first_order}
        got, want = impl.call(hw2_probes.mamlpp_loss, **options), reference.call(hw2_probes.mamlpp_loss, **options)
        torch.testing.assert_close(got["loss"], want["loss"], rtol=1e-4, atol=1e-6, msg="the loss differs from the reference")
        assert_same_tensors(got["metrics"], want["metrics"], "metric")
        assert_same_gradients(got["gradients"], want["gradients"], "meta-gradient")
