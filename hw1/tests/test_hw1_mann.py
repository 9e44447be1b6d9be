"""Public tests of hw1/mann.py: what the model may see, what the loss counts, and that it learns."""
import torch
import torch.nn.functional as F
from gradescope_utils.autograder_utils.decorators import number, weight

import hw1_probes


@weight(1)
@number("2.1")
def test_forward_shape(impl):
    """MANN.forward returns logits [B, K+1, N, N]"""
    logits = impl.call(hw1_probes.mann_outputs, seed=0, num_classes=3, num_shot=2)["logits"]
    assert logits.shape == (4, 3, 3, 3), f"expected (4, 3, 3, 3), got {tuple(logits.shape)}"


@weight(2)
@number("2.2")
def test_query_labels_cannot_influence_the_logits(impl):
    """the query labels are hidden from the model, and the caller's labels are left unchanged"""
    honest = impl.call(hw1_probes.mann_outputs, seed=1)
    leaked = impl.call(hw1_probes.mann_outputs, seed=1, query_labels=torch.full((4, 3, 3), 7.0))
    torch.testing.assert_close(leaked["logits"], honest["logits"], msg="changing the query labels changed the logits")
    assert torch.equal(leaked["labels_after"][:, -1], torch.full((4, 3, 3), 7.0)), \
        "forward must not modify its input labels in place"
    assert not torch.equal(honest["logits"][:, 0], honest["logits"][:, 1]), "the logits should depend on the sequence"


@weight(2)
@number("2.3")
def test_loss_is_cross_entropy_of_the_query_row_only(impl):
    """query_loss is the cross-entropy of the query predictions and ignores the support predictions"""
    generator = torch.Generator().manual_seed(4)
    _, labels = hw1_probes.seeded_task_batch(4, num_classes=5, num_shot=2)
    logits = torch.randn(4, 3, 5, 5, generator=generator)
    got = impl.call(hw1_probes.loss_and_gradient, logits, labels)
    expected = F.cross_entropy(logits[:, -1].reshape(-1, 5), labels[:, -1].reshape(-1, 5).argmax(-1))
    torch.testing.assert_close(got["loss"], expected)
    assert got["gradient"][:, :-1].abs().max() == 0, "support predictions must not contribute to the loss"
    changed = logits.clone()
    changed[:, :-1] = torch.randn(4, 2, 5, 5, generator=generator)
    torch.testing.assert_close(impl.call(hw1_probes.loss_and_gradient, changed, labels)["loss"], expected)


@weight(2)
@number("2.4")
def test_short_training_on_omniglot_lowers_the_loss(impl):
    """600 steps of meta-training on real Omniglot lower the query loss (2-way 1-shot)"""
    losses = impl.call(hw1_probes.short_training, steps=600, timeout=300)
    start, end = losses[:30].mean().item(), losses[-30:].mean().item()
    print(f"mean query loss: first 30 steps {start:.3f}, last 30 steps {end:.3f}")
    assert end < start - 0.05, f"the loss went from {start:.3f} to {end:.3f}; it should fall by more than 0.05"
