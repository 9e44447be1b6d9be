"""The one shape a batch of tasks takes on its way from a sampler to a learner.

Every sampler of the kit returns a ``TaskBatch`` (or a subclass that adds what
its tasks know about themselves, such as the true function of a regression
task), and every learner of hw2 and hw3 takes one:

    batch = sampler.sample(16)              # a TaskBatch of 16 tasks
    loss, metrics = learner.loss(batch)     # the learner contract (hw2/README.md, hw3/README.md)
    batch.x_support.shape                   # [16, K_total, ...]: the first dimension is always the task

``x`` are inputs (images, features, points), ``y`` their targets (class
indices, labels, values); ``support`` is what a learner adapts to, ``query``
what it is measured on.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class TaskBatch:
    """B tasks, each a support set and a query set.

    x_support: [B, S, ...], y_support: [B, S, ...]   S support examples per task
    x_query:   [B, M, ...], y_query:   [B, M, ...]   M query examples per task
    """

    x_support: torch.Tensor
    y_support: torch.Tensor
    x_query: torch.Tensor
    y_query: torch.Tensor

    def __len__(self) -> int:
        return len(self.x_support)

    def tensors(self) -> dict[str, torch.Tensor]:
        """Every tensor field, by name (a subclass's too)."""
        return {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}

    def to(self, device: str | torch.device) -> "TaskBatch":
        """The same batch with every tensor on ``device``."""
        return dataclasses.replace(self, **{name: t.to(device) for name, t in self.tensors().items()})

    def __getitem__(self, tasks: slice) -> "TaskBatch":
        """The tasks selected by a slice (or index tensor), as a batch of the same type."""
        if isinstance(tasks, int):
            raise TypeError("index a TaskBatch with a slice (batch[i:i + 1]): one task is a batch of one")
        return dataclasses.replace(self, **{name: t[tasks] for name, t in self.tensors().items()})
