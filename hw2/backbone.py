"""The 4-block convolutional network of the Omniglot literature, written so that MAML can adapt it.

Each block is a 3x3 convolution with 64 filters, batch norm and a ReLU. Two
published variants differ in how they shrink the image:

``"max"``     stride 1, then 2x2 max-pooling: 28 -> 14 -> 7 -> 3 -> 1, a 64-d embedding
              (Vinyals et al. 2016; Snell et al. 2017: prototypical networks);
``"stride"``  stride 2, no pooling: 28 -> 14 -> 7 -> 4 -> 2, a 256-d feature, about
              four times cheaper (Finn et al. 2017: MAML).

``forward(images, parameters)`` is *functional*: it takes the parameters as an
argument, so that MAML can run the network with adapted parameters that are
not the module's own. One call runs the images of one task; batch norm
normalises with the statistics of those images (no running averages), as in
Finn et al.'s code, so a task never sees another task's statistics.

Activations are kept channels-last ([M, H, W, C] in memory), the layout that
oneDNN's CPU convolutions prefer; docs/benchmarks/hw2_speed.md times it against
the default layout and the other choices we tried.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

POOLINGS = ("max", "stride")


class ConvNet(nn.Module):
    """Four conv blocks, then (if ``num_outputs``) a linear head.

    Parameters are named ``conv{i}_weight``, ``conv{i}_bias``, ``norm{i}_weight``,
    ``norm{i}_bias`` for i = 0..3, and ``head_weight``, ``head_bias``.

    With ``context_dim`` > 0 the last block is also modulated by a task's *context* vector (CAVIA,
    hw2/cavia.py): FiLM's ``film_weight`` and ``film_bias`` map it to a scale and a shift per channel,
    applied after that block's batch norm. The context is not a parameter of the module: it comes in
    ``parameters["context"]`` (zeros, no modulation, when absent).
    """

    def __init__(self, num_outputs: int | None, pooling: str = "max", channels: int = 64, in_channels: int = 1,
                 image_size: int = 28, memory_format: torch.memory_format = torch.channels_last, context_dim: int = 0):
        super().__init__()
        self.memory_format = memory_format
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        self.pooling = pooling
        self.num_outputs = num_outputs
        size, width = image_size, in_channels
        for block in range(4):
            conv = nn.Conv2d(width, channels, 3)  # its default initialisation, then we keep only the tensors
            self.register_parameter(f"conv{block}_weight", conv.weight)
            self.register_parameter(f"conv{block}_bias", conv.bias)
            self.register_parameter(f"norm{block}_weight", nn.Parameter(torch.ones(channels)))
            self.register_parameter(f"norm{block}_bias", nn.Parameter(torch.zeros(channels)))
            size = size // 2 if pooling == "max" else (size + 1) // 2
            width = channels
        self.feature_dim = channels * size * size
        if num_outputs is not None:
            head = nn.Linear(self.feature_dim, num_outputs)
            nn.init.xavier_uniform_(head.weight)
            nn.init.zeros_(head.bias)
            self.head_weight, self.head_bias = head.weight, head.bias
        self.context_dim = context_dim
        if context_dim:
            film = nn.Linear(context_dim, 2 * channels)  # [scale - 1, shift] per channel of the last block
            self.film_weight, self.film_bias = film.weight, nn.Parameter(torch.zeros(2 * channels))

    def features(self, images: torch.Tensor, parameters: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """The four conv blocks' output, flattened: float [M, feature_dim] for images [M, C, H, W]
        (``parameters`` as in ``forward``; the head's entries, if any, are not used)."""
        parameters = dict(self.named_parameters()) if parameters is None else parameters
        x = images.contiguous(memory_format=self.memory_format)
        stride = 2 if self.pooling == "stride" else 1
        for block in range(4):
            x = F.conv2d(x, parameters[f"conv{block}_weight"], parameters[f"conv{block}_bias"], stride, padding=1)
            x = F.batch_norm(x, None, None, parameters[f"norm{block}_weight"], parameters[f"norm{block}_bias"],
                             training=True)
            if block == 3 and self.context_dim and "context" in parameters:
                scale, shift = F.linear(parameters["context"], parameters["film_weight"], parameters["film_bias"]).chunk(2)
                x = x * (1 + scale.view(1, -1, 1, 1)) + shift.view(1, -1, 1, 1)
            x = F.relu(x)
            if self.pooling == "max":
                x = F.max_pool2d(x, 2)
        return x.flatten(1)

    def forward(self, images: torch.Tensor, parameters: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
        """Outputs for the images of one task.

        Args:
            images: float [M, C, H, W].
            parameters: None (the module's own), or a dict name -> tensor of the module's shapes.

        Returns:
            float [M, num_outputs] (logits), or [M, feature_dim] without a head.
        """
        parameters = dict(self.named_parameters()) if parameters is None else parameters
        features = self.features(images, parameters)
        if self.num_outputs is None:
            return features
        return F.linear(features, parameters["head_weight"], parameters["head_bias"])
