import torch
from gradescope_utils.autograder_utils.decorators import number, partial_credit, visibility, weight

import hw0_probes


@weight(2)
@number("1.2")
def test_softmax_matches_reference(impl, reference):
    """tempered_softmax equals the reference"""
    got = impl.call(hw0_probes.softmax_of_seeded_logits, seed=3)
    want = reference.call(hw0_probes.softmax_of_seeded_logits, seed=3)
    torch.testing.assert_close(got["probabilities"], want["probabilities"])


@partial_credit(2)
@number("1.3")
@visibility("after_due_date")
def test_softmax_gradient_per_temperature(impl, reference, set_score=None):
    """tempered_softmax's gradient equals the reference at two temperatures"""
    matched = 0
    for temperature in (0.5, 3.0):
        got = impl.call(hw0_probes.softmax_of_seeded_logits, seed=4, temperature=temperature)["gradient"]
        want = reference.call(hw0_probes.softmax_of_seeded_logits, seed=4, temperature=temperature)["gradient"]
        matched += bool(torch.allclose(got, want, atol=1e-6))
    set_score(matched)
    assert matched == 2, f"{matched} of 2 temperatures give the reference gradient"
