"""Reptile (Nichol, Achiam and Schulman 2018): first-order meta-learning that never differentiates an inner loop.

MAML's meta-gradient differentiates the query loss through the inner loop. Reptile
differentiates nothing through it: it trains the network on one task with a few plain
gradient steps, from the initialisation theta to weights phi, then moves the initialisation
toward them, theta <- theta + epsilon * (phi - theta). Nichol et al. show that, averaged over
tasks, this direction holds MAML's first-order gradient and a term that rewards
initialisations where the gradients of different batches of a task agree, which is what
makes a few steps generalise. Reptile needs no query set: in training it fits all of a task's
images; at test time it adapts on the support set like MAML.

The kit's learners hand a loss to an optimiser, so the outer update is written as one: the
*Reptile loss* 1/2 ||theta - phi||^2, with phi a constant, has the gradient theta - phi, the
opposite of Reptile's direction. Adam on it is Reptile with Adam as the outer optimiser.

    reptile = Reptile(ConvNet(num_outputs=5, pooling="stride"), num_inner_steps=5, inner_lr=0.1)
    loss, metrics = reptile.loss(batch)       # batch: a TaskBatch (data/tasks.py)
    loss.backward()                           # theta - phi, averaged over tasks, into reptile.parameters()

The inner loop and prediction are MAML's (hw2/maml.py), first order and with fixed rates.
"""
from __future__ import annotations

import torch
from torch import nn

from common.evaluation import accuracy
from data.tasks import TaskBatch
from hw2.maml import MAML, task_averages


class Reptile(MAML):
    """An initialisation of ``network``'s parameters, trained by Reptile's update; adapted by plain gradient steps."""

    def __init__(self, network: nn.Module, num_inner_steps: int = 5, inner_lr: float = 0.1):
        super().__init__(network, num_inner_steps, inner_lr, learn_inner_lrs=False, first_order=True)

    def loss(self, batch: TaskBatch) -> tuple[torch.Tensor, dict[str, float]]:
        """The Reptile loss of a batch of tasks: fit each task on all its images, then pull the
        initialisation toward the fitted weights.

        Args:
            batch: x_support [B, N*K, 1, 28, 28], y_support int64 [B, N*K],
                   x_query [B, N*Q, 1, 28, 28], y_query int64 [B, N*Q].

        Returns:
            loss: the mean over tasks of 1/2 * sum over parameter tensors of ||theta - phi||^2, where phi
                are the weights fitted to the task (constants); its gradient with respect to each
                meta-parameter theta is the mean of theta - phi.
            metrics: averages over the tasks of the accuracy on the task's images before the fit
                ("support_accuracy_before") and after it ("support_accuracy"), and of the fitted
                weights' accuracy on the query images ("query_accuracy", which were part of the fit).
        """
        losses, fit_accuracies, query_accuracies = [], [], []
        # TODO: For each task b: the task's images and labels, support and query together (torch.cat); fit them with
        #       self.adapt (first order: plain steps); then the Reptile loss 0.5 * sum of (theta - phi.detach())^2 over
        #       the network's named parameters, and the query accuracy of the fitted weights
        #       (self.network(batch.x_query[b], phi)). Append to the three lists; the lines below average them.
        raise NotImplementedError("TODO in Reptile.loss(): see the comment above")
        return torch.stack(losses).mean(), task_averages(fit_accuracies, query_accuracies)
