"""Hidden tests of going further: the fine-tuning baseline, against the reference on seeded inputs."""
import pytest
import torch
from gradescope_utils.autograder_utils.decorators import number, visibility, weight

import hw2_probes
from test_hw2_reference import assert_same_gradients, assert_same_tensors

pytestmark = pytest.mark.part("finetune")


@weight(1)
@number("8.4")
@visibility("after_due_date")
def test_finetuning_matches_the_reference(impl, reference):
    """finetuned_head_logits (20-way 5-shot on 64-d features, classes in random order, 100 steps) and
    FineTuning's loss, metrics and gradients equal the reference's"""
    generator = torch.Generator().manual_seed(84)
    support, query = torch.rand(100, 64, generator=generator), torch.rand(9, 64, generator=generator)
    labels = torch.arange(20).repeat_interleave(5)[torch.randperm(100, generator=generator)]
    got = impl.call(hw2_probes.finetuned_head_logits, support, labels, query, 20, 100, 1.0)
    want = reference.call(hw2_probes.finetuned_head_logits, support, labels, query, 20, 100, 1.0)
    assert_same_tensors(got, want, "finetuned_head_logits", rtol=1e-3, atol=1e-5)
    options = {"seed": 85, "num_way": 4, "num_support": 2, "num_query": 3, "num_classes": 30}
    got, want = impl.call(hw2_probes.finetuning_loss, **options), reference.call(hw2_probes.finetuning_loss, **options)
    torch.testing.assert_close(got["loss"], want["loss"], rtol=1e-4, atol=1e-6, msg="the loss differs from the reference")
    assert_same_tensors(got["metrics"], want["metrics"], "metric")
    assert_same_gradients(got["gradients"], want["gradients"], "gradient")
