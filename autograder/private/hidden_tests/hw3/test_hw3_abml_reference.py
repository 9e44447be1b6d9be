"""Hidden tests of going further: ABML, against the reference on seeded inputs."""
import pytest
from gradescope_utils.autograder_utils.decorators import number, visibility, weight

import hw3_probes
from test_hw3_reference import assert_same

pytestmark = pytest.mark.part("abml")


@weight(1)
@number("7.5")
@visibility("after_due_date")
def test_abml_matches_the_reference(impl, reference):
    """ABML's adapted q (3 steps), meta-loss, metrics and meta-gradient equal the reference's"""
    options = {"seed": 75, "num_inner_steps": 3, "train": False}
    assert_same(impl.call(hw3_probes.abml_adapt, **options), reference.call(hw3_probes.abml_adapt, **options),
                "adapt, 3 steps")
    for options in ({"seed": 76}, {"seed": 77, "first_order": True, "body_width": 5, "num_inner_steps": 3}):
        assert_same(impl.call(hw3_probes.abml_loss, **options), reference.call(hw3_probes.abml_loss, **options),
                    f"loss with {options}")
