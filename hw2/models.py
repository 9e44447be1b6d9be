"""The learners a hw2 checkpoint can hold, built from its ``kind`` and ``config`` (see common/checkpoints.py)."""
from torch import nn

KINDS = ("maml", "protonet")


def build_model(kind: str, config: dict) -> nn.Module:
    """A fresh learner of ``kind`` with the constructor arguments ``config``."""
    # Imported on demand: an unfinished MAML must not break ProtoNet, nor ProtoNet MAML.
    if kind == "maml":
        from hw2.maml import MAML

        return MAML(**config)
    if kind == "protonet":
        from hw2.protonet import ProtoNet

        return ProtoNet(**config)
    raise ValueError(f"unknown hw2 learner {kind!r}; one of {', '.join(KINDS)}")
