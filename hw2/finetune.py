"""The fine-tuning baseline: pre-train a classifier of every training character, then fit a new head per task.

Meta-learning papers compare against this baseline (Chen et al. 2019, "A Closer
Look at Few-shot Classification"; Tian et al. 2020): nothing is learned about
*learning*. The ConvNet is trained as an ordinary classifier of all the
training split's classes, with one linear layer over them. At test time that
layer is thrown away; the body is frozen, and a new N-way linear head is fitted
to the task's support features by gradient descent, from zero, every task anew.

    baseline = FineTuning(ConvNet(num_outputs=None, pooling="max"), num_classes=1100)
    loss, metrics = baseline.loss(batch)      # batch: an EpisodeBatch (data/episodes.py), which names its classes
    logits = baseline.predict(x_support, y_support, x_query)   # [B, M, N], a new head per task

The test-time rule is ProtoNet's ``head`` slot (hw2/protonet.py): the baseline
is a ProtoNet whose head is learned per task and whose body is trained by
classification instead of episodes.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from common.evaluation import accuracy
from data.episodes import EpisodeBatch
from hw2.protonet import ProtoNet


def finetuned_head_logits(support_features: torch.Tensor, support_labels: torch.Tensor,
                          query_features: torch.Tensor, num_way: int, num_steps: int, step_size: float) -> torch.Tensor:
    """Fit a new linear head to one task's support features; return its logits of the query features.

    The head (weight [N, D], bias [N]) starts at zero and takes ``num_steps`` plain gradient-descent
    steps of size ``step_size`` on the mean support cross-entropy. The features are constants: no
    gradient reaches the network that computed them.

    Args:
        support_features: float [N*K, D].
        support_labels: int64 [N*K], in 0..num_way-1.
        query_features: float [M, D].
        num_way: N.
        num_steps, step_size: the fitting's gradient steps and their size.

    Returns:
        float [M, N], query_features @ weight.T + bias with the fitted head (a constant too).
    """
    # TODO: Detach the features. Zero tensors for the head, with requires_grad=True. Inside torch.enable_grad() (the
    #       caller may run under torch.no_grad()): for each step, the support logits F.linear(features, weight, bias),
    #       the cross-entropy, its gradients with torch.autograd.grad, and new tensors weight - step_size * gradient
    #       (detached, then requires_grad_() again). Finally the query logits, detached.
    raise NotImplementedError("TODO in finetuned_head_logits(): see the comment above")


class FineTuning(ProtoNet):
    """An embedding ``network`` pre-trained by a linear ``classifier`` of the split's ``num_classes`` classes.

    ``loss`` trains both on the classes of an EpisodeBatch; ``predict`` (ProtoNet's) classifies each
    task's query set with a new head fitted to its support set (``head``); the classifier is not used there.
    """

    def __init__(self, network: nn.Module, num_classes: int, num_steps: int = 100, step_size: float = 0.03):
        super().__init__(network)
        self.classifier = nn.Linear(network.feature_dim, num_classes)
        self.num_steps, self.step_size = num_steps, step_size

    def head(self, support_features: torch.Tensor, support_labels: torch.Tensor, query_features: torch.Tensor,
             num_way: int) -> torch.Tensor:
        """Logits [M, N] of one task's query embeddings by a new head: ``finetuned_head_logits``."""
        return finetuned_head_logits(support_features, support_labels, query_features, num_way,
                                     self.num_steps, self.step_size)

    def loss(self, batch: EpisodeBatch) -> tuple[torch.Tensor, dict[str, float]]:
        """Cross-entropy of classifying every image of the batch among the split's classes.

        Args:
            batch: x_support [B, N*K, 1, 28, 28], y_support int64 [B, N*K], x_query [B, N*Q, 1, 28, 28],
                   y_query int64 [B, N*Q], and classes int64 [B, N]: label n of task b is class classes[b, n].

        Returns:
            loss: the cross-entropy of ``self.classifier``'s logits [B*N*(K+Q), num_classes] of all the images,
                embedded in one call of ``self.network``, against their classes.
            metrics: the accuracy of that classification on the support images ("support_accuracy") and on the
                query images ("query_accuracy").
        """
        # TODO: The split's class of each image: batch.classes.gather(1, labels) turns labels [B, M] into classes [B, M].
        #       One call of self.network on all the support and query images (flattened to [B*M, 1, 28, 28] and
        #       concatenated), self.classifier on the features, the cross-entropy; the accuracies of each part.
        raise NotImplementedError("TODO in FineTuning.loss(): see the comment above")
        return loss, metrics
