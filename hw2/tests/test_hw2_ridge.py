"""Public tests of going further: R2-D2's ridge head (hw2/ridge.py): the closed form, its gradients, the learner."""
import pytest
import torch
from gradescope_utils.autograder_utils.decorators import number, weight

import hw2_probes
from hw2_accuracy import assert_checkpoint_accuracy

pytestmark = pytest.mark.part("ridge")


def random_task(seed: int, num_way: int, num_shot: int, dimension: int, num_query: int = 7):
    generator = torch.Generator().manual_seed(seed)
    support = torch.randn(num_way * num_shot, dimension, generator=generator)
    labels = torch.arange(num_way).repeat_interleave(num_shot)[torch.randperm(num_way * num_shot, generator=generator)]
    return support, labels, torch.randn(num_query, dimension, generator=generator)


@weight(1)
@number("5.1")
def test_ridge_logits_solve_the_ridge_problem(impl, evaluator):
    """ridge_logits equal scale * x W for the ridge solution W, computed here as an ordinary least-squares
    problem, with the same gradients; with fewer support images than dimensions and with more"""
    for seed, num_way, num_shot, dimension, regularizer, scale in ((50, 5, 1, 16, 1.0, 10.0), (51, 4, 3, 8, 0.3, 2.5)):
        support, labels, query = random_task(seed, num_way, num_shot, dimension)
        got = impl.call(hw2_probes.ridge_logits, support, labels, query, num_way, regularizer, scale)
        expected = evaluator.call(hw2_probes.ridge_by_least_squares, support, labels, query, num_way, regularizer, scale)
        where = f"{num_way}-way {num_shot}-shot, {dimension}-d features, lambda {regularizer}"
        for name, tensor in expected.items():
            torch.testing.assert_close(got[name], tensor, rtol=1e-3, atol=1e-4, msg=f"{name} ({where})")


@weight(1)
@number("5.2")
def test_ridge_learner_trains_through_its_head(impl, evaluator):
    """RidgeNet.loss is the query cross-entropy of the ridge head (ProtoNet.loss must call self.head), and the
    regulariser and the scale receive gradients"""
    got = impl.call(hw2_probes.ridge_loss, seed=52)
    expected = evaluator.call(hw2_probes.ridge_expected_loss, seed=52)
    torch.testing.assert_close(got["loss"], expected, rtol=1e-3, atol=1e-5,
                               msg="the loss of RidgeNet: ProtoNet.loss must classify with self.head, which RidgeNet "
                                   "replaces by ridge_logits")
    for name in ("log_regularizer", "log_scale"):
        assert got["gradients"].get(name) is not None and got["gradients"][name].abs() > 0, \
            f"{name} received no gradient: pass the regularizer and the scale into the closed form"


@weight(2)
@number("5.3")
def test_ridge_5way_1shot_accuracy(evaluator, impl_root, grader_seed):
    """ridge_K1_N5.pt: 5-way 1-shot test accuracy"""
    assert_checkpoint_accuracy(evaluator, impl_root, "ridge", 5, 1, grader_seed)
