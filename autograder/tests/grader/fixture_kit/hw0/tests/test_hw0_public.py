import torch
from gradescope_utils.autograder_utils.decorators import number, weight

import hw0_probes


@weight(1)
@number("1.1")
def test_softmax_rows_sum_to_one(impl):
    """tempered_softmax returns probabilities"""
    probabilities = impl.call(hw0_probes.softmax_of_seeded_logits, seed=0)["probabilities"]
    assert probabilities.shape == (4, 5), f"expected shape (4, 5), got {tuple(probabilities.shape)}"
    torch.testing.assert_close(probabilities.sum(1), torch.ones(4))


@weight(1)
@number("2.1")
def test_checkpoint_accuracy(impl, impl_root, grader_seed):
    """the submitted checkpoint classifies the grader's points"""
    path = impl_root / "hw0" / "checkpoints" / "linear.pt"
    assert path.is_file(), "checkpoints/linear.pt is missing from your submission"
    state = torch.load(path, weights_only=True)
    generator = torch.Generator().manual_seed(1000 + grader_seed)
    features = torch.randn(200, 2, generator=generator)
    labels = (features[:, 0] > 0).long()
    predictions = impl.call(hw0_probes.predict, state, features)
    accuracy = (predictions == labels).float().mean().item()
    print(f"accuracy {accuracy:.3f} (threshold 0.9)")
    assert accuracy >= 0.9
