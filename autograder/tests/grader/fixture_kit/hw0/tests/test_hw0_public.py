import torch
from gradescope_utils.autograder_utils.decorators import number, weight

import hw0_probes
from harness.plugin import load_submitted_checkpoint, received


@weight(1)
@number("1.1")
def test_softmax_rows_sum_to_one(impl):
    """tempered_softmax returns probabilities"""
    probabilities = impl.call(hw0_probes.softmax_of_seeded_logits, seed=0)["probabilities"]
    assert probabilities.shape == (4, 5), f"expected shape (4, 5), got {tuple(probabilities.shape)}"
    torch.testing.assert_close(probabilities.sum(1), torch.ones(4))


@weight(1)
@number("2.1")
def test_checkpoint_accuracy(impl_root, evaluator, grader_seed):
    """the submitted checkpoint classifies the grader's points"""
    state = load_submitted_checkpoint(impl_root, "hw0", "linear.pt", ["weight"])
    generator = torch.Generator().manual_seed(grader_seed)
    features = torch.randn(200, 2, generator=generator)
    labels = (features[:, 0] > 0).long()
    predictions = received(evaluator.call(hw0_probes.predict, state, features), shape=(200,), dtype=torch.int64,
                           name="predictions")
    accuracy = (predictions == labels).double().mean().item()
    print(f"accuracy {accuracy:.3f} (threshold 0.9)")
    assert accuracy >= 0.9
