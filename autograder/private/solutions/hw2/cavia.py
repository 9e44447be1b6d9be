"""CAVIA (Zintgraf, Shiarlis, Kurin, Hofmann and Whiteson 2019): fast context adaptation.

MAML adapts every weight of the network to each task, though most of them, as ANIL
found, hardly need to change. CAVIA splits the parameters in two: the network's
weights, shared by all tasks and learned only in the outer loop, and a small
*context* vector, the only thing the inner loop adapts. The context starts at zero
for every task, takes a few gradient steps on the support loss, and modulates the
network (here by FiLM on the last conv block: a scale and a shift per channel,
hw2/backbone.py). The meta-gradient reaches the shared weights through the
context's inner steps, as MAML's does through the adapted weights.

Adapting 100 numbers instead of 113,000 makes the inner loop cheap and hard to
overfit, and separates what is task-specific from what is shared.

    cavia = CAVIA(ConvNet(num_outputs=5, pooling="stride", context_dim=100), num_inner_steps=2, inner_lr=1.0)
    loss, metrics = cavia.loss(batch)         # MAML's outer step, with CAVIA's inner loop

The outer step and prediction are MAML's (hw2/maml.py): the adapted "parameters" are the
network's own, plus the task's context.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from common.evaluation import accuracy
from hw2.maml import MAML


class CAVIA(MAML):
    """Shared weights of a context-modulated ``network`` (``context_dim`` > 0), and one inner learning rate,
    for the context (fixed, or meta-learned with ``learn_inner_lrs``)."""

    def __init__(self, network: nn.Module, num_inner_steps: int = 2, inner_lr: float = 1.0,
                 learn_inner_lrs: bool = False, first_order: bool = False):
        if not getattr(network, "context_dim", 0):
            raise ValueError("CAVIA needs a network with context_dim > 0: ConvNet(..., context_dim=100)")
        super().__init__(network, num_inner_steps, inner_lr, learn_inner_lrs, first_order)
        self.inner_lrs = nn.ParameterDict({"context": nn.Parameter(torch.tensor(float(inner_lr)),
                                                                   requires_grad=learn_inner_lrs)})

    def adapt(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[dict[str, torch.Tensor], list[float]]:
        """The inner loop: ``num_inner_steps`` gradient steps on the task's context alone, from zero.

        Args:
            images: float [N*K, 1, 28, 28], the support images of one task.
            labels: int64 [N*K], their classes in 0..N-1.

        Returns:
            parameters: the network's own parameters (the meta-parameters themselves), and "context": the
                adapted context, float [context_dim], a function of the meta-parameters in training mode.
            accuracies: support accuracy before each step and after the last one (``num_inner_steps + 1`` floats).
        """
        parameters = dict(self.network.named_parameters())
        accuracies = []
        # BEGIN SOLUTION
        # The context: zeros [context_dim] in the parameters' dtype and device, made to require a gradient.
        # For each inner step: the logits self.network(images, {**parameters, "context": context}), their
        # accuracy, the cross-entropy, its gradient with respect to the context only, and a new context
        # context - self.inner_lrs["context"] * gradient (create_graph as in MAML). Finally, the support
        # accuracy of the adapted context, and parameters["context"] set to it.
        weight = parameters["film_weight"]
        context = torch.zeros(self.network.context_dim, dtype=weight.dtype, device=weight.device, requires_grad=True)
        for _ in range(self.num_inner_steps):
            logits = self.network(images, {**parameters, "context": context})
            accuracies.append(accuracy(logits, labels))
            loss = F.cross_entropy(logits, labels)
            (gradient,) = torch.autograd.grad(loss, [context], create_graph=self.training and not self.first_order)
            context = context - self.inner_lrs["context"] * gradient
        with torch.no_grad():
            accuracies.append(accuracy(self.network(images, {**parameters, "context": context}), labels))
        parameters["context"] = context
        # END SOLUTION
        return parameters, accuracies
