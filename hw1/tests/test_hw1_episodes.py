"""Public tests of hw1/episodes.py: the layout and the randomness of the tasks."""
import torch
from gradescope_utils.autograder_utils.decorators import number, weight

import hw1_probes
from data.splits import character_split


@weight(1)
@number("1.1")
def test_shapes_and_dtypes(impl):
    """sample_episodes returns images [B, K+1, N, 784] and labels [B, K+1, N, N] as float32"""
    batch = impl.call(hw1_probes.fake_episodes, num_classes=4, num_samples_per_class=3, batch_size=5, seed=0)
    images, labels = batch["images"], batch["labels"]
    assert images.shape == (5, 3, 4, 784), f"images: expected (5, 3, 4, 784), got {tuple(images.shape)}"
    assert labels.shape == (5, 3, 4, 4), f"labels: expected (5, 3, 4, 4), got {tuple(labels.shape)}"
    assert images.dtype == torch.float32 and labels.dtype == torch.float32, f"got {images.dtype} and {labels.dtype}"
    assert 0 <= images.min() and images.max() <= 1, "images must be in [0, 1] (divide the uint8 drawings by 255)"


@weight(1)
@number("1.2")
def test_labels_are_one_hot_and_support_rows_in_class_order(impl):
    """labels are one-hot; every row holds each class once; support rows are in class order"""
    labels = impl.call(hw1_probes.fake_episodes, num_classes=5, num_samples_per_class=3, batch_size=8, seed=1)["labels"]
    assert set(labels.unique().tolist()) <= {0.0, 1.0}, "labels must be zeros and ones"
    assert torch.equal(labels.sum(-1), torch.ones(8, 3, 5)), "each label must have exactly one 1"
    assert torch.equal(labels.sum(-2), torch.ones(8, 3, 5)), "each row of a task must hold each class once"
    assert torch.equal(labels[:, :-1], torch.eye(5).expand(8, 2, 5, 5)), "support rows must be in class order"


@weight(2)
@number("1.3")
def test_images_match_their_labels(impl):
    """every drawing of a class is of one character, distinct across classes, drawings distinct"""
    batch = impl.call(hw1_probes.fake_episodes, num_classes=4, num_samples_per_class=4, batch_size=16, seed=2)
    characters, drawings = hw1_probes.decode(batch["images"])  # [B, S, N]
    classes = batch["labels"].argmax(-1)                      # [B, S, N]
    for task in range(16):
        owner, seen = {}, {}
        for row in range(4):
            for column in range(4):
                label = int(classes[task, row, column])
                owner.setdefault(label, set()).add(int(characters[task, row, column]))
                seen.setdefault(label, []).append(int(drawings[task, row, column]))
        assert all(len(chars) == 1 for chars in owner.values()), f"task {task}: a class mixes characters: {owner}"
        assert len({next(iter(c)) for c in owner.values()}) == 4, f"task {task}: two classes share a character"
        assert all(len(set(d)) == 4 for d in seen.values()), f"task {task}: a class repeats a drawing: {seen}"


@weight(1)
@number("1.4")
def test_query_row_is_shuffled_per_task(impl):
    """the query row is shuffled: its order varies between tasks and is uniform over positions"""
    labels = impl.call(hw1_probes.fake_episodes, num_classes=3, num_samples_per_class=2, batch_size=600, seed=3)["labels"]
    orders = labels[:, -1].argmax(-1)  # [600, 3]: the class at each query position
    identity = (orders == torch.arange(3)).all(1).float().mean().item()
    assert identity < 0.3, f"{identity:.0%} of query rows are in class order; expected about 1/6 (shuffle the query row)"
    counts = torch.stack([(orders == c).float().mean(0) for c in range(3)])  # [class, position]
    assert (counts - 1 / 3).abs().max() < 0.08, f"classes are not spread uniformly over query positions: {counts}"


@weight(1)
@number("1.5")
def test_tasks_are_seeded_by_the_generator(impl):
    """the same generator seed gives the same tasks; another seed, other tasks"""
    first = impl.call(hw1_probes.fake_episodes, num_classes=3, num_samples_per_class=2, batch_size=4, seed=7)
    again = impl.call(hw1_probes.fake_episodes, num_classes=3, num_samples_per_class=2, batch_size=4, seed=7)
    other = impl.call(hw1_probes.fake_episodes, num_classes=3, num_samples_per_class=2, batch_size=4, seed=8)
    assert torch.equal(first["images"], again["images"]) and torch.equal(first["labels"], again["labels"])
    assert not torch.equal(first["images"], other["images"]), "draw every random number from `generator`"


@weight(1)
@number("1.6")
def test_splits_share_no_character(impl):
    """DataGenerator draws train tasks from train characters and test tasks from test characters only"""
    seen = {split: set(impl.call(hw1_probes.split_characters, split, batches=20).tolist()) for split in ("train", "test")}
    for split, characters in seen.items():
        allowed = set(character_split(split).characters.tolist())
        assert characters <= allowed, f"{split} tasks use {len(characters - allowed)} characters of other splits"
    assert len(seen["train"]) > 500, "train tasks should draw from all training characters"
