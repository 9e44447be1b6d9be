"""A closed-form ridge-regression head (R2-D2; Bertinetto, Henriques, Torr and Vedaldi 2019).

Between MAML, which adapts by gradient steps, and prototypical networks, which
adapt by taking means, lies a head that is *fitted exactly* per task: ridge
regression of the one-hot support labels on the support embeddings. Its
solution has a closed form, so the fit is one linear solve, and that solve is
differentiable: the meta-gradient flows through it into the embedding, with no
inner loop to unroll.

With support embeddings X [S, D] (S = N*K images) and one-hot labels Y [S, N],
the ridge weights are

    W = argmin ||X W - Y||^2 + lambda ||W||^2 = X^T (X X^T + lambda I_S)^-1 Y     [D, N]

The second form (Woodbury's identity) solves an S x S system instead of a D x D
one, which is what makes the head cheap: a task has far fewer support images
than embedding dimensions. A query embedding x gets the logits scale * x W; the
regulariser lambda and the scale are meta-learned with the embedding.

    r2d2 = RidgeNet(ConvNet(num_outputs=None, pooling="max"))
    loss, metrics = r2d2.loss(batch)          # as ProtoNet's, with the ridge head
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from hw2.protonet import ProtoNet


def ridge_logits(support_features: torch.Tensor, support_labels: torch.Tensor, query_features: torch.Tensor,
                 num_way: int, regularizer: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Logits of one task's query images under the ridge-regression head fitted to its support set.

    Args:
        support_features: float [S, D], embeddings of the S = N*K support images.
        support_labels: int64 [S], their classes in 0..num_way-1, in any order.
        query_features: float [M, D], embeddings of the images to classify.
        num_way: N.
        regularizer: float scalar tensor, lambda > 0.
        scale: float scalar tensor, multiplies the regression's outputs into logits.

    Returns:
        float [M, N]: scale * query_features @ W, with W = X^T (X X^T + lambda I)^-1 Y as in the module's
        docstring. Differentiable with respect to all the features, the regulariser and the scale.
    """
    # BEGIN SOLUTION
    # Y: the one-hot labels [S, N] (F.one_hot), in the features' dtype. Solve (X X^T + lambda I) A = Y for
    # A [S, N] with torch.linalg.solve (never form an inverse), then W = X^T A [D, N].
    one_hot = F.one_hot(support_labels, num_way).to(support_features.dtype)
    gram = support_features @ support_features.T
    identity = torch.eye(len(support_features), dtype=gram.dtype, device=gram.device)
    weights = support_features.T @ torch.linalg.solve(gram + regularizer * identity, one_hot)
    return scale * (query_features @ weights)
    # END SOLUTION


class RidgeNet(ProtoNet):
    """ProtoNet's embedding and training, with the ridge-regression head and its two meta-learned scalars.

    Both are kept as logarithms, so that they stay positive whatever step the optimiser takes.
    """

    def __init__(self, network: nn.Module, regularizer: float = 1.0, scale: float = 10.0):
        super().__init__(network)
        self.log_regularizer = nn.Parameter(torch.tensor(float(regularizer)).log())
        self.log_scale = nn.Parameter(torch.tensor(float(scale)).log())

    def head(self, support_features: torch.Tensor, support_labels: torch.Tensor, query_features: torch.Tensor,
             num_way: int) -> torch.Tensor:
        """Logits [M, N] of one task's query embeddings: ``ridge_logits`` with the learned lambda and scale."""
        return ridge_logits(support_features, support_labels, query_features, num_way,
                            self.log_regularizer.exp(), self.log_scale.exp())
