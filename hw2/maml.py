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

    maml = MAML(ConvNet(num_outputs=5, pooling="stride"), num_inner_steps=1, inner_lr=0.4)
    loss, metrics = maml.loss(batch)          # batch: a TaskBatch (data/tasks.py)
    loss.backward()                           # meta-gradient into maml.parameters()

MAML is model-agnostic: it works with any ``network`` whose forward takes the
parameters to use as an argument, ``network(x, parameters)`` (hw2/backbone.py).
In training mode (``maml.train()``) the outer step differentiates through the
inner loop; in evaluation mode (``maml.eval()``) adaptation builds no graph for it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from common.evaluation import accuracy
from data.tasks import TaskBatch


def task_averages(support_accuracies: list[list[float]], query_accuracies: list[float]) -> dict[str, float]:
    """The metrics of an outer step: averages over its tasks of the support accuracy before adaptation
    ("support_accuracy_before") and after it ("support_accuracy"), from each task's list of support accuracies
    (before each inner step, then after the last), and of the query accuracy ("query_accuracy")."""
    count = len(query_accuracies)
    return {"support_accuracy_before": sum(steps[0] for steps in support_accuracies) / count,
            "support_accuracy": sum(steps[-1] for steps in support_accuracies) / count,
            "query_accuracy": sum(query_accuracies) / count}


class MAML(nn.Module):
    """An initialisation of ``network``'s parameters and one inner learning rate per parameter tensor.

    With ``learn_inner_lrs`` the inner learning rates are meta-learned along with the
    initialisation (as in Meta-SGD, Li et al. 2017, with one rate per tensor rather than
    per entry); otherwise they stay at ``inner_lr``.
    """

    def __init__(self, network: nn.Module, num_inner_steps: int = 1, inner_lr: float = 0.4,
                 learn_inner_lrs: bool = False, first_order: bool = False):
        super().__init__()
        self.num_inner_steps = num_inner_steps
        self.first_order = first_order
        self.network = network
        self.inner_lrs = nn.ParameterDict({
            name: nn.Parameter(torch.tensor(float(inner_lr)), requires_grad=learn_inner_lrs)
            for name, _ in self.network.named_parameters()
        })

    def adapt(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[dict[str, torch.Tensor], list[float]]:
        """The inner loop: ``num_inner_steps`` gradient steps on one task's support set.

        In training mode (``self.training``) the outer step will differentiate through the
        adaptation; in evaluation mode it will not.

        Args:
            images: float [N*K, 1, 28, 28], the support images of one task.
            labels: int64 [N*K], their classes in 0..N-1.

        Returns:
            parameters: dict name -> adapted tensor, with the network's shapes. They remain
                functions of the meta-parameters (and of the inner learning rates).
            accuracies: support accuracy before each step and after the last one
                (``num_inner_steps + 1`` floats).
        """
        parameters = dict(self.network.named_parameters())
        accuracies = []
        # TODO: For each inner step: logits of the support images with the current ``parameters``
        #       (self.network(images, parameters)), their accuracy, the cross-entropy loss, its gradients
        #       with torch.autograd.grad, and a new dict parameters[name] - self.inner_lrs[name] * gradient.
        #       Never update tensors in place: the meta-parameters must stay untouched.
        #       create_graph=True keeps the second-order terms; skip them when not self.training or when
        #       self.first_order. Finally, append the support accuracy of the adapted parameters.
        raise NotImplementedError("TODO in MAML.adapt(): see the comment above")
        return parameters, accuracies

    def loss(self, batch: TaskBatch) -> tuple[torch.Tensor, dict[str, float]]:
        """The outer step: adapt to every task of the batch and measure the adapted parameters on its query set.

        Args:
            batch: x_support [B, N*K, 1, 28, 28], y_support int64 [B, N*K],
                   x_query [B, N*Q, 1, 28, 28], y_query int64 [B, N*Q].

        Returns:
            loss: the query cross-entropy averaged over the B tasks, a scalar (differentiable
                with respect to the meta-parameters in training mode).
            metrics: averages over the tasks of the support accuracy before adaptation
                ("support_accuracy_before") and after it ("support_accuracy"), and of the query
                accuracy of the adapted parameters ("query_accuracy").
        """
        losses, support_accuracies, query_accuracies = [], [], []
        # TODO: For each task b: adapt on (batch.x_support[b], batch.y_support[b]); compute the query logits with the
        #       adapted parameters, then the query cross-entropy and the query accuracy. Append the loss, adapt's
        #       accuracies and the query accuracy to the three lists; the lines below average them over tasks.
        raise NotImplementedError("TODO in MAML.loss(): see the comment above")
        return torch.stack(losses).mean(), task_averages(support_accuracies, query_accuracies)

    @torch.no_grad()
    def predict(self, x_support: torch.Tensor, y_support: torch.Tensor, x_query: torch.Tensor) -> torch.Tensor:
        """Query logits [B, M, N] of each task after adapting to its support set ([B, N*K, ...], [B, N*K]; x_query
        [B, M, ...]), with no meta-gradient."""
        logits = []
        for task in range(len(x_support)):
            with torch.enable_grad():  # the inner loop differentiates the support loss
                parameters, _ = self.adapt(x_support[task], y_support[task])
            logits.append(self.network(x_query[task], parameters))
        return torch.stack(logits)
