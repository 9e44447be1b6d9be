"""Almost No Inner Loop (ANIL; Raghu, Raghu, Bengio and Vinyals 2020): MAML that adapts only the head.

Raghu et al. asked whether MAML's inner loop learns new features for each task
or mostly reuses the features of the initialisation. They found reuse: the
convolutional layers barely change in the inner loop, and removing them from it
costs almost no accuracy. ANIL therefore adapts only the final linear layer.
The body is still meta-learned (the outer step differentiates through the
head's inner steps into it), but it runs once per image, not once per inner
step, and the second-order terms are those of a linear softmax classifier.

    anil = ANIL(ConvNet(num_outputs=5, pooling="stride"), num_inner_steps=1, inner_lr=0.4)
    loss, metrics = anil.loss(batch)          # MAML's outer step, with ANIL's inner loop

The outer step and prediction are MAML's (hw2/maml.py); only ``adapt`` differs.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from common.evaluation import accuracy
from hw2.maml import MAML

HEAD = ("head_weight", "head_bias")  # the ConvNet's parameters that the inner loop adapts


class ANIL(MAML):
    """MAML's initialisation of the whole network, with an inner loop over the head alone.

    One inner learning rate per head tensor (meta-learned with ``learn_inner_lrs``).
    """

    def __init__(self, network: nn.Module, num_inner_steps: int = 1, inner_lr: float = 0.4,
                 learn_inner_lrs: bool = False, first_order: bool = False):
        super().__init__(network, num_inner_steps, inner_lr, learn_inner_lrs, first_order)
        self.inner_lrs = nn.ParameterDict({name: self.inner_lrs[name] for name in HEAD})

    def adapt(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[dict[str, torch.Tensor], list[float]]:
        """The inner loop: ``num_inner_steps`` gradient steps on the head's two tensors only.

        Args:
            images: float [N*K, 1, 28, 28], the support images of one task.
            labels: int64 [N*K], their classes in 0..N-1.

        Returns:
            parameters: dict name -> tensor for every parameter of the network: the body's are the
                meta-parameters themselves, the head's are adapted (and remain functions of the
                meta-parameters, the body's included, in training mode).
            accuracies: support accuracy before each step and after the last one
                (``num_inner_steps + 1`` floats).
        """
        parameters = dict(self.network.named_parameters())
        accuracies = []
        # BEGIN SOLUTION
        # The support features [N*K, D], once: self.network.features(images). For each inner step: the
        # logits F.linear(features, weight, bias) with the current head, their accuracy, the cross-entropy,
        # its gradients with respect to the two head tensors only, and new head tensors (never in place).
        # create_graph as in MAML (it is what carries the meta-gradient into the body). Finally, the
        # support accuracy of the adapted head, and the head's entries of ``parameters`` replaced.
        features = self.network.features(images)
        head = {name: parameters[name] for name in HEAD}
        for _ in range(self.num_inner_steps):
            logits = F.linear(features, head["head_weight"], head["head_bias"])
            accuracies.append(accuracy(logits, labels))
            loss = F.cross_entropy(logits, labels)
            gradients = torch.autograd.grad(loss, list(head.values()),
                                            create_graph=self.training and not self.first_order)
            head = {name: tensor - self.inner_lrs[name] * gradient
                    for (name, tensor), gradient in zip(head.items(), gradients)}
        with torch.no_grad():
            accuracies.append(accuracy(F.linear(features, head["head_weight"], head["head_bias"]), labels))
        parameters.update(head)
        # END SOLUTION
        return parameters, accuracies
