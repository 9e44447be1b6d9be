"""Public tests of hw2/maml.py: the inner loop, the meta-gradient, and that MAML learns."""
import torch
from gradescope_utils.autograder_utils.decorators import number, weight

import hw2_probes
from hw2_training import short_training_accuracies


@weight(1)
@number("1.1")
def test_adapt_returns_parameters_of_the_network_shapes(impl, evaluator):
    """adapt returns one tensor per network parameter, with its shape, and num_inner_steps + 1 accuracies"""
    got = impl.call(hw2_probes.maml_adapt, seed=0, num_inner_steps=2)
    expected = evaluator.call(hw2_probes.sgd_steps, seed=0)["parameters"]
    assert set(got["parameters"]) == set(expected), \
        f"expected the names {sorted(expected)}, got {sorted(got['parameters'])}"
    for name, tensor in expected.items():
        assert got["parameters"][name].shape == tensor.shape, \
            f"{name}: expected shape {tuple(tensor.shape)}, got {tuple(got['parameters'][name].shape)}"
    assert got["accuracies"].shape == (3,), f"expected 3 accuracies for 2 inner steps, got {got['accuracies'].tolist()}"


@weight(2)
@number("1.2")
def test_inner_steps_are_gradient_steps_on_the_support_loss(impl, evaluator):
    """each inner step gives parameters - inner_lr * gradient of the support cross-entropy at the current
    parameters; the support accuracy is measured before each step and after the last"""
    for num_steps, inner_lr in ((1, 0.4), (1, 0.1), (3, 0.4)):
        got = impl.call(hw2_probes.maml_adapt, seed=1, num_inner_steps=num_steps, inner_lr=inner_lr)
        # Plain gradient steps, one after another, computed here from the network alone.
        expected = evaluator.call(hw2_probes.sgd_steps, seed=1, num_steps=num_steps, inner_lr=inner_lr)
        for name, tensor in expected["parameters"].items():
            torch.testing.assert_close(got["parameters"][name], tensor, rtol=1e-4, atol=1e-6,
                                       msg=f"{name} after {num_steps} inner step(s) (inner_lr={inner_lr})")
        torch.testing.assert_close(got["accuracies"], expected["accuracies"],
                                   msg=f"the support accuracies of {num_steps} inner step(s): before each step, then after the last")


@weight(1)
@number("1.3")
def test_inner_loop_leaves_the_meta_parameters_untouched(impl):
    """adapt builds new tensors; the meta-parameters are not modified in place"""
    for train in (True, False):
        got = impl.call(hw2_probes.maml_adapt, seed=2, num_inner_steps=3, train=train)
        mode = "training" if train else "evaluation"
        assert got["meta_parameters_unchanged"], f"adapt in {mode} mode changed the network's own parameters"
    trained = impl.call(hw2_probes.maml_adapt, seed=2, num_inner_steps=1, train=True)
    assert all(trained["keeps_graph"].values()), \
        "in training mode the adapted parameters must stay differentiable functions of the meta-parameters"


@weight(2)
@number("1.4")
def test_first_order_option_gives_the_first_order_gradient(impl, evaluator):
    """first_order=True: the meta-gradient is the query gradient at the adapted parameters"""
    got = impl.call(hw2_probes.maml_loss, seed=3, first_order=True)["gradients"]
    expected = evaluator.call(hw2_probes.meta_gradient, seed=3, first_order=True)
    for name, gradient in expected.items():
        assert got.get(name) is not None, f"{name} received no meta-gradient"
        torch.testing.assert_close(got[name], gradient, rtol=1e-3, atol=1e-6, msg=f"first-order meta-gradient of {name}")


@weight(2)
@number("1.5")
def test_second_order_terms_are_in_the_meta_gradient(impl, evaluator):
    """by default the meta-gradient differentiates through the inner gradient step (second-order terms)"""
    got = impl.call(hw2_probes.maml_loss, seed=3)["gradients"]
    first = evaluator.call(hw2_probes.meta_gradient, seed=3, first_order=True)
    second = evaluator.call(hw2_probes.meta_gradient, seed=3, first_order=False)
    missing = [name for name in second if got.get(name) is None]
    assert not missing, f"{missing} received no meta-gradient"
    if all(torch.allclose(got[name], first[name], rtol=1e-3, atol=1e-6) for name in first):
        raise AssertionError("the meta-gradient equals the first-order one: use create_graph=True in training mode "
                             "(self.training, and not first_order)")
    scale = max(gradient.abs().max().item() for gradient in second.values())  # biases before batch norm get ~0
    for name, gradient in second.items():
        torch.testing.assert_close(got[name], gradient, rtol=1e-3, atol=1e-5 * scale,
                                   msg=f"second-order meta-gradient of {name}: differentiate the query loss through "
                                       "the inner step, averaged over the tasks")


@weight(1)
@number("1.6")
def test_learned_inner_rates_receive_gradients(impl):
    """with learn_inner_lrs, every inner learning rate receives a meta-gradient; without, none is trainable"""
    learned = impl.call(hw2_probes.maml_loss, seed=4, learn_inner_lrs=True)
    rates = {name: g for name, g in learned["gradients"].items() if name.startswith("inner_lrs.")}
    assert len(rates) == len(learned["inner_lr_requires_grad"]), "every inner learning rate should be trainable"
    for name, gradient in rates.items():
        assert gradient is not None and gradient.abs() > 0, f"{name} received no gradient: use self.inner_lrs[name]"
    fixed = impl.call(hw2_probes.maml_loss, seed=4)
    assert not any(fixed["inner_lr_requires_grad"].values()), "inner learning rates must stay fixed by default"


@weight(1)
@number("1.7")
def test_loss_reports_the_accuracies_of_the_learner_contract(impl, evaluator):
    """loss(batch) returns a scalar loss and the metrics support_accuracy_before, support_accuracy and
    query_accuracy: adapt's first and last support accuracies and the query accuracy, averaged over tasks"""
    got = impl.call(hw2_probes.maml_loss, seed=5, num_inner_steps=2, train=False)
    assert got["loss"].shape == (), f"the loss should be a scalar, got shape {tuple(got['loss'].shape)}"
    names = {"support_accuracy_before", "support_accuracy", "query_accuracy"}
    assert set(got["metrics"]) == names, f"expected the metrics {sorted(names)}, got {sorted(got['metrics'])}"
    values = torch.stack(list(got["metrics"].values()))
    assert ((values >= 0) & (values <= 1)).all(), f"accuracies must lie in [0, 1], got {values.tolist()}"
    expected = evaluator.call(hw2_probes.maml_expected_accuracies, seed=5, num_inner_steps=2)
    for name, value in expected.items():
        torch.testing.assert_close(got["metrics"][name], value, msg=f"{name}, averaged over the batch's tasks")


@weight(2)
@number("1.8")
def test_short_maml_training_on_omniglot_learns(impl, evaluator):
    """150 first-order MAML steps on real Omniglot raise the held-out query accuracy after adaptation (5-way 1-shot)"""
    # The reference, started from 5 seeds: 0.24-0.27 before; 0.46-0.57 after 111 steps, 0.57-0.61 after 148.
    before, after = short_training_accuracies(impl, evaluator, "maml", steps=150, batch_size=4)
    assert after > before + 0.15, f"the held-out query accuracy went from {before:.3f} to {after:.3f}; it should rise by 0.15"
