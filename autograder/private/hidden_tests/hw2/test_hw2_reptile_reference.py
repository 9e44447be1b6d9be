"""Hidden tests of going further: Reptile, against the reference on seeded inputs."""
import pytest
import torch
from gradescope_utils.autograder_utils.decorators import number, visibility, weight

import hw2_probes
from test_hw2_reference import assert_same_gradients

pytestmark = pytest.mark.part("reptile")


@weight(1)
@number("6.4")
@visibility("after_due_date")
def test_reptile_matches_the_reference(impl, reference):
    """Reptile's loss, metrics and gradients (5-way 2-shot, 4 inner steps) equal the reference's"""
    options = {"seed": 64, "num_way": 5, "num_support": 2, "num_query": 1, "num_inner_steps": 4, "inner_lr": 0.2}
    got, want = impl.call(hw2_probes.reptile_loss, **options), reference.call(hw2_probes.reptile_loss, **options)
    torch.testing.assert_close(got["loss"], want["loss"], rtol=1e-4, atol=1e-8, msg="the loss differs from the reference")
    for name, value in want["metrics"].items():
        torch.testing.assert_close(got["metrics"].get(name), value, msg=f"{name} differs from the reference")
    assert_same_gradients(got["gradients"], want["gradients"], "gradient")
