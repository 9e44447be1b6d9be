"""Public tests of hw2/protonet.py: prototypes, distances, the loss, and that it learns."""
import torch
from gradescope_utils.autograder_utils.decorators import number, weight

import hw2_probes
from hw2_training import short_training_accuracies


@weight(2)
@number("2.1")
def test_logits_are_negative_squared_distances_to_class_means(impl):
    """prototype_logits on a hand-made 2-way example in two dimensions"""
    support = torch.tensor([[0.0, 0.0], [2.0, 0.0], [0.0, 4.0], [0.0, 6.0]])
    labels = torch.tensor([0, 0, 1, 1])  # prototypes (1, 0) and (0, 5)
    query = torch.tensor([[1.0, 0.0], [0.0, 2.0], [3.0, 5.0]])
    got = impl.call(hw2_probes.prototype_logits, support, labels, query, num_way=2)["logits"]
    expected = -torch.tensor([[0.0, 26.0], [5.0, 9.0], [29.0, 9.0]])
    assert got.shape == (3, 2), f"expected logits of shape (3, 2), got {tuple(got.shape)}"
    torch.testing.assert_close(got, expected, msg="logits should be minus the squared distances to the prototypes")


@weight(1)
@number("2.2")
def test_support_order_does_not_matter_and_classes_follow_their_labels(impl):
    """shuffling the support set changes nothing; renaming the classes permutes the logit columns"""
    generator = torch.Generator().manual_seed(6)
    support, query = torch.randn(12, 8, generator=generator), torch.randn(5, 8, generator=generator)
    labels = torch.arange(4).repeat_interleave(3)
    reference = impl.call(hw2_probes.prototype_logits, support, labels, query, num_way=4)["logits"]
    order = torch.randperm(12, generator=generator)
    shuffled = impl.call(hw2_probes.prototype_logits, support[order], labels[order], query, num_way=4)["logits"]
    torch.testing.assert_close(shuffled, reference, msg="shuffling the support set changed the logits")
    renaming = torch.tensor([2, 0, 3, 1])
    renamed = impl.call(hw2_probes.prototype_logits, support, renaming[labels], query, num_way=4)["logits"]
    torch.testing.assert_close(renamed[:, renaming], reference, msg="class n's logit should follow the label n")


@weight(1)
@number("2.3")
def test_loss_is_the_query_cross_entropy(impl, evaluator):
    """loss(batch) returns the query cross-entropy of support and query embedded together, accuracies in [0, 1],
    and gradients for every network parameter"""
    got = impl.call(hw2_probes.protonet_loss, seed=7)
    assert got["loss"].shape == () and got["loss"] > 0, f"expected a positive scalar loss, got {got['loss']}"
    expected = evaluator.call(hw2_probes.protonet_expected_step, seed=7)  # from the provided network alone
    torch.testing.assert_close(got["loss"], expected["loss"], rtol=1e-4, atol=1e-6,
                               msg="the loss should be the query cross-entropy averaged over tasks, with each task's "
                                   "support and query images embedded in one call (batch norm sees both)")
    names = {"support_accuracy", "query_accuracy"}
    assert set(got["metrics"]) == names, f"expected the metrics {sorted(names)}, got {sorted(got['metrics'])}"
    torch.testing.assert_close(got["metrics"]["query_accuracy"], expected["query_accuracy"], msg="the query accuracy")
    torch.testing.assert_close(got["metrics"]["support_accuracy"], expected["support_accuracy"],
                               msg="the support accuracy: the prototype rule on the support features themselves")
    missing = [name for name, gradient in got["gradients"].items() if gradient is None or not gradient.abs().sum() > 0]
    assert not missing, f"no gradient reached {missing}: compute the loss from the network's embeddings"


@weight(2)
@number("2.4")
def test_short_protonet_training_on_omniglot_learns(impl, evaluator):
    """60 steps on real Omniglot raise the held-out query accuracy (5-way 1-shot)"""
    # The reference, started from 5 seeds: 0.54-0.58 before; 0.78-0.82 after 50 steps, 0.83-0.87 after 100.
    before, after = short_training_accuracies(impl, evaluator, "protonet", steps=60, batch_size=2)
    assert after > before + 0.1, f"the held-out query accuracy went from {before:.3f} to {after:.3f}; it should rise by 0.1"
    assert after > 0.75, f"after 60 steps the held-out query accuracy should exceed 0.75, got {after:.3f}"
