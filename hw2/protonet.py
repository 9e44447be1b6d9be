"""Prototypical networks (Snell, Swersky and Zemel 2017): non-parametric meta-learning.

A ConvNet embeds every image. A class is represented by its *prototype*, the
mean embedding of its support images, and a query image is classified by a
softmax over its negative squared Euclidean distances to the prototypes. The
inner loop of MAML becomes a mean and a distance: nothing is optimised per
task, and the embedding is meta-trained so that this simple rule works.

    protonet = ProtoNet(ConvNet(num_outputs=None, pooling="max"))
    loss, metrics = protonet.loss(batch)      # batch: a TaskBatch (data/tasks.py)
    loss.backward()
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from common.evaluation import accuracy
from data.tasks import TaskBatch


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
    # TODO: Prototypes [N, D]: the mean support embedding of each class (a one-hot matrix of the labels,
    #       F.one_hot, turns this into one matrix product). Then the squared Euclidean distance of every
    #       query to every prototype, [M, N], negated.
    raise NotImplementedError("TODO in prototype_logits(): see the comment above")


class ProtoNet(nn.Module):
    """An embedding ``network`` (images [M, 1, 28, 28] -> features [M, D]) and the prototype rule.

    The rule is the method ``head``: a learner that classifies embeddings by another rule overrides it
    and keeps the rest.
    """

    def __init__(self, network: nn.Module):
        super().__init__()
        self.network = network

    def head(self, support_features: torch.Tensor, support_labels: torch.Tensor, query_features: torch.Tensor,
             num_way: int) -> torch.Tensor:
        """Logits [M, N] of one task's query embeddings: ``prototype_logits``."""
        return prototype_logits(support_features, support_labels, query_features, num_way)

    def loss(self, batch: TaskBatch) -> tuple[torch.Tensor, dict[str, float]]:
        """Loss and accuracies of a batch of tasks.

        Args:
            batch: x_support [B, N*K, 1, 28, 28], y_support int64 [B, N*K],
                   x_query [B, N*Q, 1, 28, 28], y_query int64 [B, N*Q].

        Returns:
            loss: the query cross-entropy of ``self.head``'s logits, averaged over the B tasks.
            metrics: averages over the tasks of the accuracy of the head on the support
                images themselves ("support_accuracy") and on the query images ("query_accuracy").
        """
        num_way = int(batch.y_support.max()) + 1
        losses, support_accuracies, query_accuracies = [], [], []
        # TODO: For each task b: embed its support and query images in one call of self.network
        #       (torch.cat, then split the [N*K + N*Q, D] features), compute the query logits with
        #       self.head (not prototype_logits itself: a subclass may swap the rule), the cross-entropy and both
        #       accuracies (for the support accuracy, classify the support features themselves). Append them to
        #       the three lists; the lines below average them.
        raise NotImplementedError("TODO in ProtoNet.loss(): see the comment above")
        count = len(losses)
        metrics = {"support_accuracy": sum(support_accuracies) / count, "query_accuracy": sum(query_accuracies) / count}
        return torch.stack(losses).mean(), metrics

    @torch.no_grad()
    def predict(self, x_support: torch.Tensor, y_support: torch.Tensor, x_query: torch.Tensor) -> torch.Tensor:
        """Query logits [B, M, N] of each task (x_support [B, N*K, ...], y_support [B, N*K], x_query [B, M, ...])."""
        num_way = int(y_support.max()) + 1
        logits = []
        for task in range(len(x_support)):
            features = self.network(torch.cat([x_support[task], x_query[task]]))
            logits.append(self.head(features[:x_support.shape[1]], y_support[task], features[x_support.shape[1]:],
                                    num_way))
        return torch.stack(logits)
