"""Public tests of hw1/mann.py: what the model may see, what the loss counts, and that it learns."""
import torch
import torch.nn.functional as F
from gradescope_utils.autograder_utils.decorators import number, weight

import hw1_probes
from harness.plugin import received
from data.episodes import EpisodeSampler, as_sequences
from data.omniglot import load_omniglot
from data.splits import character_split


@weight(1)
@number("2.1")
def test_forward_shape_and_sequence_order(impl):
    """MANN.forward returns logits [B, K+1, N, N]; the sequence runs row by row (all N classes of a row, then the
    next row), so a row's logits depend on no later row"""
    logits = impl.call(hw1_probes.mann_outputs, seed=0, num_classes=3, num_shot=2)["logits"]
    assert logits.shape == (4, 3, 3, 3), f"expected (4, 3, 3, 3), got {tuple(logits.shape)}"
    for row in (1, 2):
        redrawn = impl.call(hw1_probes.mann_outputs, seed=0, num_classes=3, num_shot=2, redrawn_row=row)["logits"]
        torch.testing.assert_close(redrawn[:, :row], logits[:, :row],
                                   msg=f"new images in row {row} changed the logits of earlier rows: flatten [B, K+1, N, _] "
                                       "into a sequence row after row, the query row last")
        assert not torch.allclose(redrawn[:, row], logits[:, row]), f"new images in row {row} did not change its logits"


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
def test_short_training_on_omniglot_lowers_the_loss(impl, evaluator):
    """600 steps of meta-training on real Omniglot lower the query loss on held-out characters (2-way 1-shot)"""
    train = torch.from_numpy(load_omniglot().images[character_split("train").characters])
    trained = impl.call(hw1_probes.short_training, train, steps=600, timeout=300)
    images, labels = as_sequences(EpisodeSampler(load_omniglot(), character_split("val"), 2, 1, 1, seed=5).sample(256))
    # The weights are judged here (with the reference's code on the grader), with the query labels hidden.
    before, after = (received(evaluator.call(hw1_probes.query_loss_of_weights, state, images, labels), shape=(),
                              name="the query loss").item() for state in (None, trained["state_dict"]))
    print(f"query loss on 256 held-out tasks: {before:.3f} before, {after:.3f} after 600 steps")
    assert after < before - 0.05, f"the held-out query loss went from {before:.3f} to {after:.3f}; it should fall by more than 0.05"
