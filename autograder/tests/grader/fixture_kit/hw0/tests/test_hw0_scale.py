import pytest
import torch
from gradescope_utils.autograder_utils.decorators import number, weight

import hw0_probes

pytestmark = pytest.mark.part("scale")


@weight(1)
@number("3.1")
def test_doubled(impl):
    """doubled doubles"""
    torch.testing.assert_close(impl.call(hw0_probes.doubled_of, torch.arange(3.0)), torch.tensor([0.0, 2.0, 4.0]))
