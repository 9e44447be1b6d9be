"""Accuracy of your trained checkpoints, measured on test tasks that the tests sample themselves.

Train with ``python -m hw2.main`` (see the handout); it writes the checkpoints
to ``hw2/checkpoints/``. How a checkpoint is judged: hw2_accuracy.py.
"""
from gradescope_utils.autograder_utils.decorators import number, weight

from hw2_accuracy import assert_checkpoint_accuracy


@weight(4)
@number("3.1")
def test_protonet_5way_1shot_accuracy(evaluator, impl_root, grader_seed):
    """protonet_K1_N5.pt: 5-way 1-shot test accuracy"""
    assert_checkpoint_accuracy(evaluator, impl_root, "protonet", 5, 1, grader_seed)


@weight(4)
@number("3.2")
def test_maml_5way_1shot_accuracy(evaluator, impl_root, grader_seed):
    """maml_K1_N5.pt: 5-way 1-shot test accuracy"""
    assert_checkpoint_accuracy(evaluator, impl_root, "maml", 5, 1, grader_seed)
