"""MAML++ (Antoniou, Edwards and Storkey 2019): three of the stabilisers that make MAML train faster and better.

Plain MAML is brittle: its meta-gradient flows only through the last inner step,
one learning rate serves every layer and step, and batch norm's scale and shift
are shared by networks that differ from step to step. MAML++ keeps MAML's outer
step and changes the inner loop in three ways (the paper names them MSL, BNWB and LSLR):

- **multi-step loss**: the query loss after *every* inner step counts, weighted;
  the weights move from uniform towards the last step over the first
  ``anneal_steps`` outer steps, so early training gets a gradient at every step;
- **per-step batch norm**: the network's state after ``s`` inner steps has its
  own batch-norm scale and shift (meta-learned, never adapted in the inner loop);
  the network's own ones serve step 0, the initialisation;
- **per-layer, per-step learned rates**: one meta-learned inner learning rate per
  parameter tensor *and* per step.

    mamlpp = MAMLPlusPlus(ConvNet(num_outputs=5, pooling="stride"), num_inner_steps=2, inner_lr=0.4)
    loss, metrics = mamlpp.loss(batch)        # MSL over the steps; counts an outer step in training mode

Prediction is MAML's (hw2/maml.py): ``adapt`` returns the last step's parameters.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from common.evaluation import accuracy
from data.tasks import TaskBatch
from hw2.maml import MAML, task_averages


def is_norm(name: str) -> bool:
    """Batch norm's scale and shift: per step in MAML++, and never adapted in the inner loop."""
    return name.startswith("norm")


class MAMLPlusPlus(MAML):
    """MAML with a multi-step loss, per-step batch norm and per-layer per-step learned inner rates.

    ``inner_lrs[name]`` is float [num_inner_steps] for each adapted tensor (all but batch norm's);
    ``step_norms[name]`` is [num_inner_steps, C] for each batch-norm tensor: row s - 1 serves the
    network after s inner steps. ``outer_steps`` counts the training-mode calls of ``loss``.
    """

    def __init__(self, network: nn.Module, num_inner_steps: int = 2, inner_lr: float = 0.4, first_order: bool = False,
                 anneal_steps: int = 2000):
        super().__init__(network, num_inner_steps, inner_lr, learn_inner_lrs=True, first_order=first_order)
        self.anneal_steps = anneal_steps
        parameters = dict(self.network.named_parameters())
        self.inner_lrs = nn.ParameterDict({
            name: nn.Parameter(torch.full((num_inner_steps,), float(inner_lr)))
            for name in parameters if not is_norm(name)
        })
        self.step_norms = nn.ParameterDict({
            name: nn.Parameter(tensor.detach().clone().expand(num_inner_steps, -1).contiguous())
            for name, tensor in parameters.items() if is_norm(name)
        })
        self.register_buffer("outer_steps", torch.zeros((), dtype=torch.long))

    def norms_at(self, step: int) -> dict[str, torch.Tensor]:
        """Batch norm's tensors for the network after ``step`` inner steps: the network's own at step 0."""
        if step == 0:
            return {name: tensor for name, tensor in self.network.named_parameters() if is_norm(name)}
        return {name: rows[step - 1] for name, rows in self.step_norms.items()}

    def step_weights(self) -> torch.Tensor:
        """The multi-step loss's weights of the query losses after steps 1..S, float [S] summing to 1: uniform at
        outer step 0, then linearly towards all weight on step S, reached after ``anneal_steps`` outer steps."""
        steps = self.num_inner_steps
        progress = min(1.0, int(self.outer_steps) / self.anneal_steps) if self.anneal_steps > 0 else 1.0
        weights = torch.full((steps,), (1 - progress) / steps)
        weights[-1] += progress
        return weights

    def adapt_steps(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[list[dict[str, torch.Tensor]], list[float]]:
        """The inner loop, keeping the parameters after every step.

        Args:
            images: float [N*K, 1, 28, 28], the support images of one task.
            labels: int64 [N*K], their classes in 0..N-1.

        Returns:
            trajectory: ``num_inner_steps + 1`` dicts name -> tensor, every parameter of the network: entry s
                holds the parameters after s inner steps, with ``norms_at(s)`` for batch norm (entry 0: the
                meta-parameters themselves). Adapted entries remain functions of the meta-parameters.
            accuracies: support accuracy of each entry (``num_inner_steps + 1`` floats).
        """
        parameters = dict(self.network.named_parameters())
        trajectory, accuracies = [parameters], []
        # TODO: For each step s = 0..S-1: the support logits with trajectory[-1], their accuracy, the cross-entropy and its
        #       gradients with respect to the adapted tensors only (the names in self.inner_lrs), create_graph as in MAML;
        #       the new dict: each adapted tensor minus self.inner_lrs[name][s] times its gradient, and batch norm's
        #       tensors from self.norms_at(s + 1). Finally, the support accuracy of the last entry.
        raise NotImplementedError("TODO in MAMLPlusPlus.adapt_steps(): see the comment above")
        return trajectory, accuracies

    def adapt(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[dict[str, torch.Tensor], list[float]]:
        """MAML's contract: the parameters after the last inner step, and the support accuracies."""
        trajectory, accuracies = self.adapt_steps(images, labels)
        return trajectory[-1], accuracies

    def loss(self, batch: TaskBatch) -> tuple[torch.Tensor, dict[str, float]]:
        """The outer step with the multi-step loss; in training mode, it also counts one outer step.

        Args:
            batch: x_support [B, N*K, 1, 28, 28], y_support int64 [B, N*K],
                   x_query [B, N*Q, 1, 28, 28], y_query int64 [B, N*Q].

        Returns:
            loss: averaged over the B tasks, the sum over steps s = 1..S of ``step_weights()[s - 1]`` times the query
                cross-entropy of the parameters after s steps.
            metrics: as MAML's ("support_accuracy_before", "support_accuracy", and "query_accuracy" of the
                parameters after the last step).
        """
        weights = self.step_weights()
        losses, support_accuracies, query_accuracies = [], [], []
        # TODO: For each task: adapt_steps on its support set; for each step s >= 1, the query logits with trajectory[s] and
        #       their cross-entropy, times weights[s - 1]; their sum; the query accuracy of the last step's logits.
        #       Skip a step whose weight is 0 (after annealing, all but the last): its query pass would cost for nothing.
        raise NotImplementedError("TODO in MAMLPlusPlus.loss(): see the comment above")
        if self.training:
            self.outer_steps += 1
        return torch.stack(losses).mean(), task_averages(support_accuracies, query_accuracies)
