"""Going further: a stronger black-box learner for 5-way 1-shot, of your own design.

The MANN reads raw pixels with an LSTM. Two ideas take a black-box learner much
further, both from the papers of the lecture: a convolutional encoder that
turns each drawing into a compact feature vector before the sequence model
sees it, and attention over the whole sequence (as in SNAIL, Mishra et al.
2018) instead of a recurrent memory. The model stays black-box: it receives
the task as a sequence of (image, label) pairs with the query labels hidden,
and nothing in it computes distances or prototypes by hand.

Your model must keep MANN's interface, so that the same training command and
the grader can use it:

    model = BlackBoxLearner(num_classes=5, samples_per_class=2)   # any extra arguments need defaults
    logits = model(images, labels)     # images [B, K+1, N, 784], labels [B, K+1, N, N] -> [B, K+1, N, N]

Train it with ``python -m hw1.main --model extension --num_classes 5 --num_shot 1``.
"""
from __future__ import annotations

import torch
from torch import nn


class BlackBoxLearner(nn.Module):
    """A sequence model over (encoded image, label) pairs; the query labels are hidden."""

    def __init__(self, num_classes: int, samples_per_class: int, width: int = 64, model_dim: int = 128,
                 num_layers: int = 2, num_heads: int = 4):
        super().__init__()
        self.num_classes = num_classes
        self.samples_per_class = samples_per_class
        # TODO: Define the layers of your model. The reference: a 4-block conv encoder
        #       (3x3 conv, batch norm, ReLU, 2x2 max-pool; ``width`` channels) to a ``width``-d feature,
        #       a linear map of [feature, label] to ``model_dim``, a transformer encoder
        #       (``num_layers`` layers, ``num_heads`` heads) and a linear read-out to N logits.
        raise NotImplementedError("TODO in BlackBoxLearner.__init__(): see the comment above")

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """images float [B, K+1, N, 784], labels float [B, K+1, N, N] -> logits [B, K+1, N, N].

        The last row of ``labels`` (the query) must not influence the output.
        """
        # TODO: Hide the query labels, encode every image, pair each feature with its label,
        #       run the sequence model over the (K+1)*N tokens and read out N logits per token.
        raise NotImplementedError("TODO in BlackBoxLearner.forward(): see the comment above")
