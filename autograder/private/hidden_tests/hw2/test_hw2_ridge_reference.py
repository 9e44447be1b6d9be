"""Hidden tests of going further: R2-D2's ridge head, against the reference on seeded inputs."""
import pytest
import torch
from gradescope_utils.autograder_utils.decorators import number, visibility, weight

import hw2_probes
from test_hw2_reference import assert_same_gradients, assert_same_tensors

pytestmark = pytest.mark.part("ridge")


@weight(1)
@number("5.4")
@visibility("after_due_date")
def test_ridge_matches_the_reference(impl, reference):
    """ridge_logits (20-way 5-shot on 64-d features, classes in random order) and RidgeNet's loss and gradients
    equal the reference's"""
    generator = torch.Generator().manual_seed(54)
    support, query = torch.randn(100, 64, generator=generator), torch.randn(9, 64, generator=generator)
    labels = torch.arange(20).repeat_interleave(5)[torch.randperm(100, generator=generator)]
    got = impl.call(hw2_probes.ridge_logits, support, labels, query, 20, 0.5, 4.0)
    want = reference.call(hw2_probes.ridge_logits, support, labels, query, 20, 0.5, 4.0)
    assert_same_tensors(got, want, "ridge_logits", rtol=1e-3, atol=1e-5)
    got, want = impl.call(hw2_probes.ridge_loss, seed=55, num_way=4), reference.call(hw2_probes.ridge_loss, seed=55, num_way=4)
    torch.testing.assert_close(got["loss"], want["loss"], rtol=1e-4, atol=1e-6, msg="the loss differs from the reference")
    assert_same_gradients(got["gradients"], want["gradients"], "gradient")
