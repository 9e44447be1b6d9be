"""Hidden tests of going further: CAVIA, against the reference on seeded inputs."""
import pytest
import torch
from gradescope_utils.autograder_utils.decorators import number, visibility, weight

import hw2_probes
from test_hw2_reference import assert_same_gradients

pytestmark = pytest.mark.part("cavia")


@weight(1)
@number("7.4")
@visibility("after_due_date")
def test_cavia_matches_the_reference(impl, reference):
    """CAVIA's adapted context (2 steps), loss, metrics and meta-gradient (learned inner rate) equal the reference's"""
    options = {"seed": 74, "num_way": 4, "num_support": 2, "num_inner_steps": 2}
    got, want = impl.call(hw2_probes.cavia_adapt, **options), reference.call(hw2_probes.cavia_adapt, **options)
    torch.testing.assert_close(got["parameters"].get("context"), want["parameters"]["context"], rtol=1e-4, atol=1e-6,
                               msg="the adapted context differs from the reference")
    torch.testing.assert_close(got["accuracies"], want["accuracies"], msg="support accuracies, 2 steps")
    options = {"seed": 75, "num_way": 3, "num_support": 2, "num_query": 2, "num_inner_steps": 2, "learn_inner_lrs": True}
    got, want = impl.call(hw2_probes.cavia_loss, **options), reference.call(hw2_probes.cavia_loss, **options)
    torch.testing.assert_close(got["loss"], want["loss"], rtol=1e-4, atol=1e-6, msg="the outer loss differs from the reference")
    for name, value in want["metrics"].items():
        torch.testing.assert_close(got["metrics"].get(name), value, msg=f"{name} differs from the reference")
    assert_same_gradients(got["gradients"], want["gradients"], "meta-gradient")
