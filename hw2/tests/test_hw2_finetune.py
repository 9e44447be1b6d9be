"""Public tests of going further: the fine-tuning baseline (hw2/finetune.py): the new head, the pre-training, the accuracy."""
import pytest
import torch
from gradescope_utils.autograder_utils.decorators import number, weight

import hw2_probes
from hw2_accuracy import assert_checkpoint_accuracy

pytestmark = pytest.mark.part("finetune")


def random_task(seed: int, num_way: int, num_shot: int, dimension: int, num_query: int = 7):
    generator = torch.Generator().manual_seed(seed)
    support = torch.rand(num_way * num_shot, dimension, generator=generator)  # non-negative, as after a ReLU
    labels = torch.arange(num_way).repeat_interleave(num_shot)[torch.randperm(num_way * num_shot, generator=generator)]
    return support, labels, torch.rand(num_query, dimension, generator=generator)


@weight(1)
@number("8.1")
def test_finetuned_head_is_gradient_descent_from_zero(impl, evaluator):
    """finetuned_head_logits fit a head from zero by plain gradient descent on the support cross-entropy (checked
    against the gradient written out by hand), also under torch.no_grad(), and let no gradient reach the features"""
    for seed, num_way, num_shot, dimension, num_steps, step_size in ((80, 5, 1, 16, 1, 1.0), (81, 4, 3, 8, 30, 0.5)):
        support, labels, query = random_task(seed, num_way, num_shot, dimension)
        got = impl.call(hw2_probes.finetuned_head_logits, support, labels, query, num_way, num_steps, step_size)
        expected = evaluator.call(hw2_probes.head_by_hand, support, labels, query, num_way, num_steps, step_size)
        where = f"{num_way}-way {num_shot}-shot, {num_steps} step(s) of {step_size}"
        torch.testing.assert_close(got["logits"], expected["logits"], rtol=1e-4, atol=1e-5, msg=f"the query logits ({where})")
        assert not got["reaches_the_features"], \
            "the logits depend differentiably on the features: fit the head to detached features"


@weight(1)
@number("8.2")
def test_pretraining_classifies_every_image_among_the_split_classes(impl, evaluator):
    """FineTuning.loss is the cross-entropy of the classifier over the split's classes, each image's class looked
    up in batch.classes, all images embedded in one call; its accuracies and gradients follow"""
    got = impl.call(hw2_probes.finetuning_loss, seed=82)
    expected = evaluator.call(hw2_probes.finetuning_expected, seed=82)
    torch.testing.assert_close(got["loss"], expected["loss"], rtol=1e-4, atol=1e-6,
                               msg="the loss: label n of task b is class batch.classes[b, n]; embed all the images of "
                                   "the batch in one call (batch norm uses the statistics of that call)")
    for name, value in expected["metrics"].items():
        torch.testing.assert_close(got["metrics"].get(name), value, msg=f"metric {name}")
    for name, gradient in expected["gradients"].items():
        assert got["gradients"].get(name) is not None, f"{name} received no gradient"
        torch.testing.assert_close(got["gradients"][name], gradient, rtol=1e-3, atol=1e-5, msg=f"the gradient of {name}")


@weight(2)
@number("8.3")
def test_finetune_5way_1shot_accuracy(evaluator, impl_root, grader_seed):
    """finetune_K1_N5.pt: 5-way 1-shot test accuracy"""
    assert_checkpoint_accuracy(evaluator, impl_root, "finetune", 5, 1, grader_seed)
