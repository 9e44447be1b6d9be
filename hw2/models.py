"""The learners a hw2 checkpoint can hold, built from its ``kind`` and ``config`` (see common/checkpoints.py).

Every learner follows one contract: ``loss(batch) -> (loss, metrics)`` on a TaskBatch (data/tasks.py), and
``predict(x_support, y_support, x_query) -> logits [B, M, N]``.
"""
from torch import nn

from hw2.backbone import ConvNet

KINDS = ("maml", "protonet", "anil", "ridge", "reptile", "cavia", "finetune", "mamlpp")


def build_model(kind: str, config: dict) -> nn.Module:
    """A fresh learner of ``kind``: MAML, MAML++, ANIL, Reptile or CAVIA on the strided ConvNet with an N-way head
    (config: num_way, CAVIA's context_dim, and the options of their constructors); ProtoNet (config: empty), the
    ridge head (config: its initial regularizer and scale, or empty) or the fine-tuning baseline (config: num_classes
    of its pre-training, and its fitting's num_steps and step_size) on the max-pooling ConvNet's 64-d embedding."""
    # Imported on demand: an unfinished learner must not break another one's tests.
    if kind == "maml":
        from hw2.maml import MAML

        options = dict(config)
        return MAML(ConvNet(options.pop("num_way"), pooling="stride"), **options)
    if kind == "protonet":
        from hw2.protonet import ProtoNet

        return ProtoNet(ConvNet(num_outputs=None, pooling="max"), **config)
    if kind == "mamlpp":
        from hw2.mamlpp import MAMLPlusPlus

        options = dict(config)
        return MAMLPlusPlus(ConvNet(options.pop("num_way"), pooling="stride"), **options)
    if kind == "anil":
        from hw2.anil import ANIL

        options = dict(config)
        return ANIL(ConvNet(options.pop("num_way"), pooling="stride"), **options)
    if kind == "reptile":
        from hw2.reptile import Reptile

        options = dict(config)
        return Reptile(ConvNet(options.pop("num_way"), pooling="stride"), **options)
    if kind == "cavia":
        from hw2.cavia import CAVIA

        options = dict(config)
        network = ConvNet(options.pop("num_way"), pooling="stride", context_dim=options.pop("context_dim"))
        return CAVIA(network, **options)
    if kind == "ridge":
        from hw2.ridge import RidgeNet

        return RidgeNet(ConvNet(num_outputs=None, pooling="max"), **config)
    if kind == "finetune":
        from hw2.finetune import FineTuning

        return FineTuning(ConvNet(num_outputs=None, pooling="max"), **config)
    raise ValueError(f"unknown hw2 learner {kind!r}; one of {', '.join(KINDS)}")
