"""Adam, step for step as ``torch.optim.Adam`` takes it on the CPU, for the tests' short training runs.

The tests train small models for a few steps in the grader's worker, whose memory a grading shares
with the trusted process. ``torch.optim``'s first step imports ``torch._dynamo``: some 800 modules
and 67 MB that the worker would hold to the end (docs/benchmarks/grading_hw3.md). This class takes
the same steps, to the bit, without that import. Training commands use ``torch.optim``.

    optimizer = Adam(model.parameters(), lr=1e-3)
    optimizer.zero_grad(); loss.backward(); optimizer.step()
"""
from __future__ import annotations

from collections.abc import Iterable

import torch


class Adam:
    """Adam without weight decay or AMSGrad: ``torch.optim.Adam(parameters, lr, betas, eps)``'s updates."""

    def __init__(self, parameters: Iterable[torch.Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8):
        self.parameters = list(parameters)
        self.lr, self.betas, self.eps = lr, betas, eps
        self.steps = [0] * len(self.parameters)                               # per parameter, as torch counts them
        self.means = [torch.zeros_like(p) for p in self.parameters]          # running means of the gradients
        self.squares = [torch.zeros_like(p) for p in self.parameters]        # ... and of their squares

    def zero_grad(self) -> None:
        for parameter in self.parameters:
            parameter.grad = None

    @torch.no_grad()
    def step(self) -> None:
        beta1, beta2 = self.betas
        for index, (parameter, mean, square) in enumerate(zip(self.parameters, self.means, self.squares)):
            if parameter.grad is None:  # torch.optim skips a parameter without a gradient, its step count too
                continue
            self.steps[index] += 1
            step_size = self.lr / (1 - beta1 ** self.steps[index])  # the running means start at zero: unbias them
            root_correction = (1 - beta2 ** self.steps[index]) ** 0.5
            mean.lerp_(parameter.grad, 1 - beta1)
            square.mul_(beta2).addcmul_(parameter.grad, parameter.grad, value=1 - beta2)
            parameter.addcdiv_(mean, (square.sqrt() / root_correction).add_(self.eps), value=-step_size)
