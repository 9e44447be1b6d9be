"""The models a hw3 checkpoint can hold, built from its ``kind`` and ``config`` (see common/checkpoints.py).

Every model follows one contract: ``loss(batch) -> (loss, metrics)`` on a TaskBatch (data/tasks.py), and
``predict(x_support, y_support, x_query, y_query=None)`` -> the predictive's tensors, [B, M] each.
"""
from torch import nn

from hw3.networks import BatchedMLP, SharedFeatureHeads

KINDS = ("cnp", "latent", "ensemble", "svgd", "abml", "alpaca")


def build_model(kind: str, config: dict) -> nn.Module:
    """A fresh model of ``kind`` with the constructor arguments ``config``.

    "ensemble" and "svgd" are both a ParticleMAML, without and with SVGD's repulsion. With ``body_width`` > 0
    its particles are linear heads on shared meta-learned features of that width (``SharedFeatureHeads``);
    with 0 (the default) each particle is a whole MLP of ``input_dim`` inputs and two hidden layers of
    ``hidden`` (default 40) units. "abml" and "alpaca" are going-further parts.
    """
    # Imported on demand: one unfinished method must not break the others.
    if kind == "cnp":
        from hw3.cnp import ConditionalNeuralProcess

        return ConditionalNeuralProcess(**config)
    if kind == "latent":
        from hw3.latent import LatentVariableModel

        return LatentVariableModel(**config)
    if kind in ("ensemble", "svgd"):
        from hw3.particles import ParticleMAML

        options = dict(config)
        hidden, input_dim, body_width = options.pop("hidden", 40), options.pop("input_dim", 1), options.pop("body_width", 0)
        network = SharedFeatureHeads(input_dim, body_width) if body_width else BatchedMLP([input_dim, hidden, hidden, 1])
        return ParticleMAML(network, **options, svgd=kind == "svgd")
    if kind == "abml":
        from hw3.abml import AmortizedBayesianMAML

        return AmortizedBayesianMAML(**config)
    if kind == "alpaca":
        from hw3.alpaca import BayesianLinearRegression

        return BayesianLinearRegression(**config)
    raise ValueError(f"unknown hw3 model {kind!r}; one of {', '.join(KINDS)}")
