"""Hidden tests of going further: ALPaCA, against the reference on seeded inputs."""
import pytest
from gradescope_utils.autograder_utils.decorators import number, visibility, weight

import hw3_probes
from test_hw3_reference import assert_same

pytestmark = pytest.mark.part("alpaca")


@weight(1)
@number("8.5")
@visibility("after_due_date")
def test_alpaca_matches_the_reference(impl, reference):
    """ALPaCA's posterior, evidence, predictive, loss and gradients equal the reference's, for one and three
    components and other widths"""
    for options in ({"seed": 85, "num_components": 1, "width": 9}, {"seed": 86, "num_components": 3, "num_support": 7},
                    {"seed": 87, "num_support": 1, "hidden": 8}):
        assert_same(impl.call(hw3_probes.alpaca_outputs, **options), reference.call(hw3_probes.alpaca_outputs, **options),
                    f"ALPaCA with {options}", rtol=1e-3, atol=1e-4)
