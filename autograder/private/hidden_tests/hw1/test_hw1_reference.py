"""Hidden tests of hw1: values and gradients against the reference solution, on seeded inputs."""
import torch
from gradescope_utils.autograder_utils.decorators import number, visibility, weight

import hw1_probes


@weight(2)
@number("2.5")
@visibility("after_due_date")
def test_mann_logits_match_the_reference(impl, reference):
    """MANN's logits equal the reference's (same seed, same weights)"""
    for seed, num_classes, num_shot in [(10, 3, 2), (11, 5, 1)]:
        got = impl.call(hw1_probes.mann_outputs, seed=seed, num_classes=num_classes, num_shot=num_shot)
        want = reference.call(hw1_probes.mann_outputs, seed=seed, num_classes=num_classes, num_shot=num_shot)
        torch.testing.assert_close(got["logits"], want["logits"], rtol=1e-4, atol=1e-5,
                                   msg=f"{num_classes}-way {num_shot}-shot logits differ from the reference")


@weight(2)
@number("2.6")
@visibility("after_due_date")
def test_mann_gradients_match_the_reference(impl, reference):
    """the gradients of the query loss with respect to MANN's parameters equal the reference's"""
    got = impl.call(hw1_probes.mann_outputs, seed=12, num_classes=4, num_shot=2)
    want = reference.call(hw1_probes.mann_outputs, seed=12, num_classes=4, num_shot=2)
    torch.testing.assert_close(got["loss"], want["loss"], rtol=1e-4, atol=1e-6, msg="the loss differs from the reference")
    for name, gradient in want["gradients"].items():
        assert got["gradients"].get(name) is not None, f"{name} received no gradient"
        torch.testing.assert_close(got["gradients"][name], gradient, rtol=1e-3, atol=1e-6,
                                   msg=f"the gradient of {name} differs from the reference")


@weight(1)
@number("2.7")
@visibility("after_due_date")
def test_query_loss_and_its_gradient_match_the_reference(impl, reference):
    """query_loss and its gradient with respect to the logits equal the reference's"""
    logits = torch.randn(6, 3, 4, 4, generator=torch.Generator().manual_seed(13)) * 3
    _, labels = hw1_probes.seeded_task_batch(13, num_classes=4, num_shot=2, batch_size=6)
    got = impl.call(hw1_probes.loss_and_gradient, logits, labels)
    want = reference.call(hw1_probes.loss_and_gradient, logits, labels)
    torch.testing.assert_close(got["loss"], want["loss"])
    torch.testing.assert_close(got["gradient"], want["gradient"], msg="the gradient differs (mean, not sum, over queries)")
