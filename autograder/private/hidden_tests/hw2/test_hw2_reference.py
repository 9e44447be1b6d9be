"""Hidden tests of hw2: values and gradients against the reference solution, on seeded inputs."""
import torch
from gradescope_utils.autograder_utils.decorators import number, visibility, weight

import hw2_probes


def assert_same_tensors(got: dict, want: dict, what: str, rtol: float = 1e-4, atol: float = 1e-6) -> None:
    for name, tensor in want.items():
        assert got.get(name) is not None, f"{what}: {name} is missing"
        torch.testing.assert_close(got[name], tensor, rtol=rtol, atol=atol, msg=f"{what}: {name} differs from the reference")


def assert_same_gradients(got: dict, want: dict, what: str) -> None:
    """Gradients compared on the scale of the largest one. A conv bias followed by batch norm has a zero
    gradient in exact arithmetic; what is left is rounding noise (about 1e-6) that depends on the number
    of threads, so an absolute tolerance of 1e-5 of the largest gradient is needed, and enough."""
    scale = max(tensor.abs().max().item() for tensor in want.values())
    for name, tensor in want.items():
        assert got.get(name) is not None, f"{what}: {name} is missing"
        torch.testing.assert_close(got[name], tensor, rtol=1e-3, atol=1e-5 * scale,
                                   msg=f"{what}: {name} differs from the reference")


@weight(2)
@number("1.9")
@visibility("after_due_date")
def test_adapted_parameters_match_the_reference(impl, reference):
    """adapted parameters and support accuracies equal the reference's after 1 and 3 inner steps"""
    for steps in (1, 3):
        got = impl.call(hw2_probes.maml_adapt, seed=20 + steps, num_inner_steps=steps, num_way=4, num_support=2)
        want = reference.call(hw2_probes.maml_adapt, seed=20 + steps, num_inner_steps=steps, num_way=4, num_support=2)
        assert_same_tensors(got["parameters"], want["parameters"], f"after {steps} inner steps")
        torch.testing.assert_close(got["accuracies"], want["accuracies"], msg=f"support accuracies, {steps} steps")


@weight(3)
@number("1.10")
@visibility("after_due_date")
def test_meta_gradient_matches_the_reference(impl, reference):
    """second-order meta-gradient (2 inner steps, learned inner rates) equals the reference's"""
    options = {"seed": 24, "num_way": 3, "num_support": 2, "num_query": 2, "num_inner_steps": 2, "learn_inner_lrs": True}
    got = impl.call(hw2_probes.maml_loss, **options)
    want = reference.call(hw2_probes.maml_loss, **options)
    torch.testing.assert_close(got["loss"], want["loss"], rtol=1e-4, atol=1e-6, msg="the outer loss differs from the reference")
    for name, value in want["metrics"].items():
        torch.testing.assert_close(got["metrics"].get(name), value, msg=f"{name} differs from the reference")
    assert_same_gradients(got["gradients"], want["gradients"], "meta-gradient")


@weight(2)
@number("2.5")
@visibility("after_due_date")
def test_prototype_logits_and_gradients_match_the_reference(impl, reference):
    """prototype_logits and its gradients equal the reference's on random features, classes in random order"""
    generator = torch.Generator().manual_seed(25)
    support, query = torch.randn(15, 16, generator=generator), torch.randn(7, 16, generator=generator)
    labels = torch.arange(5).repeat_interleave(3)[torch.randperm(15, generator=generator)]
    got = impl.call(hw2_probes.prototype_logits, support, labels, query, num_way=5)
    want = reference.call(hw2_probes.prototype_logits, support, labels, query, num_way=5)
    assert_same_tensors(got, want, "prototype_logits")


@weight(2)
@number("2.6")
@visibility("after_due_date")
def test_protonet_loss_matches_the_reference(impl, reference):
    """ProtoNet.loss's loss, metrics and parameter gradients equal the reference's"""
    got = impl.call(hw2_probes.protonet_loss, seed=26, num_way=4, num_support=2, num_query=3)
    want = reference.call(hw2_probes.protonet_loss, seed=26, num_way=4, num_support=2, num_query=3)
    torch.testing.assert_close(got["loss"], want["loss"], rtol=1e-4, atol=1e-6, msg="the loss differs from the reference")
    for name, value in want["metrics"].items():
        torch.testing.assert_close(got["metrics"].get(name), value, msg=f"{name} differs from the reference")
    assert_same_gradients(got["gradients"], want["gradients"], "gradient")
