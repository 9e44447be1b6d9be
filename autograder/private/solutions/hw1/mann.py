"""A memory-augmented neural network (MANN): black-box meta-learning with two LSTMs.

The network reads a task as a sequence: every image arrives with its label,
except the query images, whose labels are replaced by zeros. The LSTM's state
is its memory of the support set; from it, the network must name the class
of each query image. Meta-training across many tasks teaches the recurrent
weights *how to learn* from a handful of labelled examples.

    model = MANN(num_classes=5, samples_per_class=2, hidden_dim=128)
    logits = model(images, labels)            # [B, K+1, N, N]
    loss = query_loss(logits, labels)
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

IMAGE_DIM = 28 * 28


class MANN(nn.Module):
    """Two stacked LSTMs over the sequence of (image, label) pairs of a task.

    ``layer1`` maps an image and its label (784 + N) to ``hidden_dim``; ``layer2``
    maps that to N class logits.
    """

    def __init__(self, num_classes: int, samples_per_class: int, hidden_dim: int = 128):
        super().__init__()
        self.num_classes = num_classes
        self.samples_per_class = samples_per_class
        self.layer1 = nn.LSTM(IMAGE_DIM + num_classes, hidden_dim, batch_first=True)
        self.layer2 = nn.LSTM(hidden_dim, num_classes, batch_first=True)
        for layer in (self.layer1, self.layer2):
            initialize_lstm(layer)

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Class logits for every position of the sequence.

        Args:
            images: float [B, K+1, N, 784].
            labels: float one-hot [B, K+1, N, N]; the last row (the query) must not be seen.

        Returns:
            logits float [B, K+1, N, N].
        """
        # BEGIN SOLUTION
        # 1. Hide the query labels: zeros in place of labels[:, -1] (without changing ``labels``).
        # 2. Concatenate each image with its (possibly hidden) label and flatten the task into one
        #    sequence of length (K+1)*N: [B, (K+1)*N, 784 + N].
        # 3. Run layer1 then layer2 and reshape the outputs back to [B, K+1, N, N].
        batch, rows, num_classes, _ = images.shape
        visible = torch.cat([labels[:, :-1], torch.zeros_like(labels[:, -1:])], dim=1)
        sequence = torch.cat([images, visible], dim=-1).reshape(batch, rows * num_classes, -1)
        hidden, _ = self.layer1(sequence)
        logits, _ = self.layer2(hidden)
        return logits.reshape(batch, rows, num_classes, num_classes)
        # END SOLUTION


def query_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy of the query predictions only, averaged over tasks and classes.

    Args:
        logits: float [B, K+1, N, N] from a model's forward.
        labels: float one-hot [B, K+1, N, N].

    Returns:
        a scalar tensor.
    """
    # BEGIN SOLUTION
    # Cross-entropy between the last row of the logits and the class index of the last row
    # of the labels; the support rows do not count. Shapes: [B*N, N] logits, [B*N] targets.
    num_classes = logits.shape[-1]
    query_logits = logits[:, -1].reshape(-1, num_classes)
    query_targets = labels[:, -1].reshape(-1, num_classes).argmax(dim=-1)
    return F.cross_entropy(query_logits, query_targets)
    # END SOLUTION


def initialize_lstm(layer: nn.LSTM) -> None:
    """Xavier-uniform input and recurrent weights, zero biases: trains faster than PyTorch's default."""
    for name, parameter in layer.named_parameters():
        if "weight" in name:
            nn.init.xavier_uniform_(parameter)
        else:
            nn.init.zeros_(parameter)
