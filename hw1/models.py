"""The models a hw1 checkpoint can hold, built from its ``kind`` and ``config`` (see common/checkpoints.py)."""
from torch import nn

KINDS = ("mann", "extension")


def build_model(kind: str, config: dict) -> nn.Module:
    """A fresh model of ``kind`` with the constructor arguments ``config``."""
    # Imported on demand: an extension not attempted must not break the MANN, nor the MANN the extension.
    if kind == "mann":
        from hw1.mann import MANN

        return MANN(**config)
    if kind == "extension":
        from hw1.extension import BlackBoxLearner

        return BlackBoxLearner(**config)
    raise ValueError(f"unknown hw1 model {kind!r}; one of {', '.join(KINDS)}")
