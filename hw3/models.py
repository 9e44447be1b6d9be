"""The models a hw3 checkpoint can hold, built from its ``kind`` and ``config`` (see common/checkpoints.py)."""
from torch import nn

KINDS = ("cnp", "latent", "ensemble", "svgd")


def build_model(kind: str, config: dict) -> nn.Module:
    """A fresh model of ``kind`` with the constructor arguments ``config``; "ensemble" and "svgd" are both a
    ParticleMAML, without and with SVGD's repulsion."""
    # Imported on demand: one unfinished method must not break the others.
    if kind == "cnp":
        from hw3.cnp import ConditionalNeuralProcess

        return ConditionalNeuralProcess(**config)
    if kind == "latent":
        from hw3.latent import LatentVariableModel

        return LatentVariableModel(**config)
    if kind in ("ensemble", "svgd"):
        from hw3.particles import ParticleMAML

        return ParticleMAML(**config, svgd=kind == "svgd")
    raise ValueError(f"unknown hw3 model {kind!r}; one of {', '.join(KINDS)}")
