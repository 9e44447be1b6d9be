"""Prototypical networks (Snell, Swersky and Zemel 2017): non-parametric meta-learning.

A ConvNet embeds every image. A class is represented by its *prototype*, the
mean embedding of its support images, and a query image is classified by a
softmax over its negative squared Euclidean distances to the prototypes. The
inner loop of MAML becomes a mean and a distance: nothing is optimised per
task, and the embedding is meta-trained so that this simple rule works.

    protonet = ProtoNet()
    loss, support_accuracy, query_accuracy = protonet.step(task_batch)
    loss.backward()
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from common.evaluation import accuracy
from hw2.backbone import ConvNet


def prototype_logits(support_features: torch.Tensor, support_labels: torch.Tensor, query_features: torch.Tensor,
                     num_way: int) -> torch.Tensor:
    """Logits of the query images of one task: negative squared distances to the prototypes.

    Args:
        support_features: float [N*K, D], embeddings of the support images.
        support_labels: int64 [N*K], their classes in 0..num_way-1, in any order.
        query_features: float [M, D], embeddings of the images to classify.
        num_way: N.

    Returns:
        float [M, N]: entry (m, n) is -||query_features[m] - prototype[n]||^2, where
        prototype[n] is the mean of the support embeddings of class n.
    """
    # BEGIN SOLUTION
    # Prototypes [N, D]: the mean support embedding of each class (a one-hot matrix of the labels,
    # F.one_hot, turns this into one matrix product). Then the squared Euclidean distance of every
    # query to every prototype, [M, N], negated.
    one_hot = F.one_hot(support_labels, num_way).to(support_features.dtype)  # [N*K, N]
    prototypes = one_hot.T @ support_features / one_hot.sum(0).unsqueeze(1)
    return -(query_features.unsqueeze(1) - prototypes.unsqueeze(0)).square().sum(-1)
    # END SOLUTION


class ProtoNet(nn.Module):
    """A ConvNet embedding (the max-pooling variant, 64-d) and the prototype rule."""

    def __init__(self):
        super().__init__()
        self.network = ConvNet(num_outputs=None, pooling="max")

    def step(self, task_batch: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, float, float]:
        """Loss and accuracies of a batch of tasks.

        Args:
            task_batch: (support [B, N*K, 1, 28, 28], support_labels int64 [B, N*K],
                         query [B, N*Q, 1, 28, 28], query_labels int64 [B, N*Q]).

        Returns:
            loss: the query cross-entropy of ``prototype_logits``, averaged over the B tasks.
            support_accuracy: accuracy of the prototype rule on the support images themselves.
            query_accuracy: accuracy on the query images. Both averaged over tasks.
        """
        support, support_labels, query, query_labels = task_batch
        num_way = int(support_labels.max()) + 1
        losses, support_accuracies, query_accuracies = [], [], []
        # BEGIN SOLUTION
        # For each task b: embed its support and query images in one call of self.network
        # (torch.cat, then split the [N*K + N*Q, D] features), compute the query logits with
        # prototype_logits, the cross-entropy and both accuracies (for the support accuracy, classify the
        # support features themselves). Append them to the three lists; the lines below average them.
        for task in range(len(support)):
            features = self.network(torch.cat([support[task], query[task]]))
            support_features, query_features = features[:len(support[task])], features[len(support[task]):]
            logits = prototype_logits(support_features, support_labels[task], query_features, num_way)
            losses.append(F.cross_entropy(logits, query_labels[task]))
            query_accuracies.append(accuracy(logits, query_labels[task]))
            support_logits = prototype_logits(support_features, support_labels[task], support_features, num_way)
            support_accuracies.append(accuracy(support_logits, support_labels[task]))
        # END SOLUTION
        count = len(losses)
        return torch.stack(losses).mean(), sum(support_accuracies) / count, sum(query_accuracies) / count

    @torch.no_grad()
    def predict(self, support: torch.Tensor, support_labels: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        """Query logits [N*Q, N] of one task."""
        features = self.network(torch.cat([support, query]))
        num_way = int(support_labels.max()) + 1
        return prototype_logits(features[:len(support)], support_labels, features[len(support):], num_way)
