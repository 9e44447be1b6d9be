"""Model-agnostic meta-learning (MAML; Finn, Abbeel and Levine 2017).

MAML learns an initialisation of the network's parameters from which a few
gradient steps on a task's support set give parameters that classify the
task's query set well. The *inner loop* takes those steps; the *outer step*
measures the query loss of the adapted parameters and differentiates it with
respect to the initialisation, through the inner loop. Because the inner
gradient steps are themselves part of the computation graph, the meta-gradient
contains second derivatives (the Hessian of the support loss): with
``first_order=True`` they are dropped (first-order MAML), which is cheaper and
usually nearly as good.

    maml = MAML(num_way=5, num_inner_steps=1, inner_lr=0.4)
    loss, support_accuracies, query_accuracy = maml.outer_step(task_batch, train=True)
    loss.backward()                           # meta-gradient into maml.parameters()
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from common.evaluation import accuracy
from hw2.backbone import ConvNet


class MAML(nn.Module):
    """A ConvNet initialisation and one inner learning rate per parameter tensor.

    With ``learn_inner_lrs`` the inner learning rates are meta-learned along with the
    initialisation (as in Meta-SGD, Li et al. 2017, with one rate per tensor rather than
    per entry); otherwise they stay at ``inner_lr``.
    """

    def __init__(self, num_way: int, num_inner_steps: int = 1, inner_lr: float = 0.4,
                 learn_inner_lrs: bool = False, first_order: bool = False):
        super().__init__()
        self.num_way = num_way
        self.num_inner_steps = num_inner_steps
        self.first_order = first_order
        self.network = ConvNet(num_way, pooling="stride")
        self.inner_lrs = nn.ParameterDict({
            name: nn.Parameter(torch.tensor(float(inner_lr)), requires_grad=learn_inner_lrs)
            for name, _ in self.network.named_parameters()
        })

    def adapt(self, images: torch.Tensor, labels: torch.Tensor, train: bool) -> tuple[dict[str, torch.Tensor], list[float]]:
        """The inner loop: ``num_inner_steps`` gradient steps on one task's support set.

        Args:
            images: float [N*K, 1, 28, 28], the support images of one task.
            labels: int64 [N*K], their classes in 0..N-1.
            train: True during meta-training, when the outer step will differentiate
                through the adaptation.

        Returns:
            parameters: dict name -> adapted tensor, with the network's shapes. They remain
                functions of the meta-parameters (and of the inner learning rates).
            accuracies: support accuracy before each step and after the last one
                (``num_inner_steps + 1`` floats).
        """
        parameters = dict(self.network.named_parameters())
        accuracies = []
        # BEGIN SOLUTION
        # For each inner step: logits of the support images with the current ``parameters``
        # (self.network(images, parameters)), their accuracy, the cross-entropy loss, its gradients
        # with torch.autograd.grad, and a new dict parameters[name] - self.inner_lrs[name] * gradient.
        # Never update tensors in place: the meta-parameters must stay untouched.
        # create_graph=True keeps the second-order terms; skip them when not training or when
        # self.first_order. Finally, append the support accuracy of the adapted parameters.
        for _ in range(self.num_inner_steps):
            logits = self.network(images, parameters)
            accuracies.append(accuracy(logits, labels))
            loss = F.cross_entropy(logits, labels)
            gradients = torch.autograd.grad(loss, list(parameters.values()),
                                            create_graph=train and not self.first_order)
            parameters = {name: tensor - self.inner_lrs[name] * gradient
                          for (name, tensor), gradient in zip(parameters.items(), gradients)}
        with torch.no_grad():
            accuracies.append(accuracy(self.network(images, parameters), labels))
        # END SOLUTION
        return parameters, accuracies

    def outer_step(self, task_batch: tuple[torch.Tensor, ...], train: bool) -> tuple[torch.Tensor, list[float], float]:
        """Adapt to every task of the batch and measure the adapted parameters on its query set.

        Args:
            task_batch: (support [B, N*K, 1, 28, 28], support_labels int64 [B, N*K],
                         query [B, N*Q, 1, 28, 28], query_labels int64 [B, N*Q]).
            train: as in ``adapt``.

        Returns:
            loss: the query cross-entropy averaged over the B tasks, a scalar (differentiable
                with respect to the meta-parameters when ``train``).
            support_accuracies: ``num_inner_steps + 1`` floats, ``adapt``'s accuracies averaged over tasks.
            query_accuracy: query accuracy of the adapted parameters, averaged over tasks.
        """
        support, support_labels, query, query_labels = task_batch
        losses, support_accuracies, query_accuracies = [], [], []
        # BEGIN SOLUTION
        # For each task b: adapt on (support[b], support_labels[b]); compute the query logits with the
        # adapted parameters, then the query cross-entropy and the query accuracy. Append the loss, adapt's
        # accuracies and the query accuracy to the three lists; the lines below average them over tasks.
        for task in range(len(support)):
            parameters, accuracies = self.adapt(support[task], support_labels[task], train)
            logits = self.network(query[task], parameters)
            losses.append(F.cross_entropy(logits, query_labels[task]))
            support_accuracies.append(accuracies)
            query_accuracies.append(accuracy(logits, query_labels[task]))
        # END SOLUTION
        mean_support_accuracies = [sum(step) / len(step) for step in zip(*support_accuracies)]
        return torch.stack(losses).mean(), mean_support_accuracies, sum(query_accuracies) / len(query_accuracies)

    @torch.no_grad()
    def predict(self, support: torch.Tensor, support_labels: torch.Tensor, query: torch.Tensor) -> torch.Tensor:
        """Query logits [N*Q, N] of one task after adapting to its support set (no meta-gradient)."""
        with torch.enable_grad():  # the inner loop differentiates the support loss
            parameters, _ = self.adapt(support, support_labels, train=False)
        return self.network(query, parameters)
