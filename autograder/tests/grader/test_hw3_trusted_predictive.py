"""hw3's trusted side: the mixture it builds from a worker's components, weighted or not, and what it refuses."""
import math

import pytest
import torch
from test_hw3_quality import mixture_predictive  # hw3/tests is on pytest.ini's pythonpath


def components(generator: torch.Generator, num_components: int = 3) -> dict:
    return {"means": torch.randn(num_components, 4, 5, generator=generator),
            "variances": 0.1 + torch.rand(num_components, 4, 5, generator=generator)}


def test_equal_log_weights_give_the_equally_weighted_mixture():
    generator = torch.Generator().manual_seed(0)
    parts, y = components(generator), torch.randn(4, 5, generator=generator)
    plain = mixture_predictive(parts, y)
    weighted = mixture_predictive({**parts, "log_weights": torch.full((3, 4), 7.0)}, y)  # normalised here
    for name in ("log_prob", "cdf", "mean", "variance"):
        torch.testing.assert_close(weighted[name], plain[name])


def test_weights_pick_out_a_component():
    generator = torch.Generator().manual_seed(1)
    parts, y = components(generator), torch.randn(4, 5, generator=generator)
    log_weights = torch.full((3, 4), -1e4)
    log_weights[1] = 0.0
    out = mixture_predictive({**parts, "log_weights": log_weights}, y)
    mean, variance = parts["means"][1].double(), parts["variances"][1].double()
    torch.testing.assert_close(out["mean"], mean)
    torch.testing.assert_close(out["variance"], variance)
    torch.testing.assert_close(out["log_prob"], -0.5 * ((y - mean).square() / variance + torch.log(2 * math.pi * variance)))


@pytest.mark.parametrize("log_weights", [torch.zeros(2, 4), torch.full((3, 4), float("nan")), torch.full((3, 4), 1e9),
                                         [[0.0] * 4] * 3])
def test_hostile_log_weights_are_refused(log_weights):
    generator = torch.Generator().manual_seed(2)
    with pytest.raises(AssertionError):
        mixture_predictive({**components(generator), "log_weights": log_weights}, torch.randn(4, 5, generator=generator))
