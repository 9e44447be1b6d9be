import pytest
import torch
from gradescope_utils.autograder_utils.decorators import number, weight

import hw0_probes

pytestmark = pytest.mark.part("scale")


@weight(1)
@number("3.2")
def test_doubled_matches_reference(impl, reference):
    """doubled equals the reference on negative values"""
    values = -torch.arange(4.0)
    torch.testing.assert_close(impl.call(hw0_probes.doubled_of, values), reference.call(hw0_probes.doubled_of, values))
