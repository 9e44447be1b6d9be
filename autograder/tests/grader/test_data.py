"""data/: preparation from Omniglot-shaped zips made here, splits, and episode sampling."""
import io
import zipfile

import numpy as np
import pytest
import torch
from PIL import Image

from data import omniglot
from data.episodes import EpisodeBatch, EpisodeSampler, as_sequences, rotate_by_class, split_support_query
from data.regression import RegressionTaskBatch, RegressionTasks
from data.splits import character_split
from data.tasks import TaskBatch


def png(seed: int) -> bytes:
    """A 105x105 one-bit drawing: white paper with a black square."""
    image = Image.new("1", (105, 105), 1)
    offset = 10 + seed % 50
    image.paste(0, (offset, offset, offset + 30, offset + 30))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def make_zip(path, name, alphabets, characters, drawings=20, drop=None):
    drawing = png(0)
    with zipfile.ZipFile(path / name, "w") as archive:
        for a in range(alphabets):
            for c in range(characters):
                for d in range(drawings):
                    member = f"{name[:-4]}/{name[7:10]}{a:02d}/character{c + 1:02d}/{a:02d}{c:02d}_{d + 1:02d}.png"
                    if member != drop:
                        archive.writestr(member, drawing)


@pytest.fixture
def small_omniglot(tmp_path, monkeypatch):
    """Official layout, fewer characters: the expected counts are patched to match."""
    monkeypatch.setitem(omniglot.ZIPS, "images_background.zip", ("0" * 32, 3, 6))
    monkeypatch.setitem(omniglot.ZIPS, "images_evaluation.zip", ("0" * 32, 2, 4))
    monkeypatch.setattr(omniglot, "NUM_ALPHABETS", 5)
    monkeypatch.setattr(omniglot, "NUM_CHARACTERS", 10)
    source = tmp_path / "source"
    source.mkdir()
    make_zip(source, "images_background.zip", 3, 2)
    make_zip(source, "images_evaluation.zip", 2, 2)
    return source


def test_prepare_from_local_source_caches_28x28_ink_images(small_omniglot, tmp_path):
    path = omniglot.prepare(source=small_omniglot, directory=tmp_path / "cache", progress=False)
    data = omniglot.load_omniglot(tmp_path / "cache")
    assert data.images.shape == (10, 20, 28, 28) and data.images.dtype == np.uint8
    assert data.background.tolist() == [True] * 6 + [False] * 4
    assert data.names()[0] == "bac00/character01"
    square = data.images[0, 0]
    assert square.max() > 200 and square[0, 0] == 0  # ink is high, paper is zero
    mtime = path.stat().st_mtime_ns
    omniglot.prepare(source=small_omniglot, directory=tmp_path / "cache", progress=False)
    assert path.stat().st_mtime_ns == mtime  # idempotent: the cache is not rebuilt
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_incomplete_zip_is_refused_with_what_is_wrong(small_omniglot, tmp_path):
    make_zip(small_omniglot, "images_evaluation.zip", 2, 2, drop="images_evaluation/eva01/character02/0101_07.png")
    with pytest.raises(omniglot.OmniglotError, match=r"1 characters without 20 drawings \(eva01/character02 has 19\)"):
        omniglot.prepare(source=small_omniglot, directory=tmp_path / "cache", progress=False)
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def test_missing_zip_and_missing_cache_name_the_fix(small_omniglot, tmp_path):
    (small_omniglot / "images_background.zip").unlink()
    with pytest.raises(omniglot.OmniglotError, match="lacks images_background.zip"):
        omniglot.prepare(source=small_omniglot, directory=tmp_path / "cache", progress=False)
    with pytest.raises(omniglot.OmniglotError, match="python -m data.omniglot"):
        omniglot.load_omniglot(tmp_path / "nothing")


def test_damaged_cache_names_the_fix(tmp_path):
    omniglot.cache_file(tmp_path).write_bytes(b"not an npz")
    with pytest.raises(omniglot.OmniglotError, match="Delete it and run"):
        omniglot.load_omniglot(tmp_path)


def test_download_checks_md5(tmp_path, monkeypatch):
    payload = b"not the official zip"

    class Response(io.BytesIO):
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

    monkeypatch.setattr(omniglot.urllib.request, "urlopen", lambda url, timeout: Response(payload))
    with pytest.raises(omniglot.OmniglotError, match="expected 68d2efa1b9178cc56df9314c21c6e718"):
        omniglot.download("images_background.zip", tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("protocol, rotations", [("cs330", 1), ("published", 4)])
def test_splits_partition_the_characters(protocol, rotations):
    splits = {name: character_split(name, protocol) for name in ("train", "val", "test")}
    assert [len(s.characters) for s in splits.values()] == [1100, 100, 423]
    assert sorted(np.concatenate([s.characters for s in splits.values()]).tolist()) == list(range(1623))
    assert all(s.num_rotations == rotations for s in splits.values())
    assert np.array_equal(character_split("test", protocol).characters, splits["test"].characters)  # seeded
    assert not np.array_equal(character_split("test", protocol, seed=2).characters, splits["test"].characters)


def fake_omniglot(num_characters=1623):
    """Each drawing is filled with its character index (mod 256) and drawing index in one pixel."""
    images = np.zeros((num_characters, 20, 28, 28), dtype=np.uint8)
    images += (np.arange(num_characters) % 256).astype(np.uint8)[:, None, None, None]
    images[:, :, 0, 1] = np.arange(20, dtype=np.uint8)[None]
    names = np.array([f"c{i}" for i in range(num_characters)])
    return omniglot.Omniglot(images, names, names, np.ones(num_characters, bool))


def test_sampler_draws_distinct_classes_and_drawings_of_the_split():
    split = character_split("test")
    sampler = EpisodeSampler(fake_omniglot(), split, num_way=5, num_support=2, num_query=3, seed=0)
    images = sampler.sample_images(batch_size=64)
    assert images.shape == (64, 5, 5, 1, 28, 28) and images.dtype == torch.float32
    characters = (images[:, :, 0, 0, 5, 5] * 255).round().long()
    allowed = set((split.characters % 256).tolist())
    assert set(characters.flatten().tolist()) <= allowed
    drawings = (images[..., 0, 0, 1] * 255).round().long()
    assert all(len(set(row.tolist())) == 5 for row in drawings.flatten(0, 1))
    again = EpisodeSampler(fake_omniglot(), split, num_way=5, num_support=2, num_query=3, seed=0).sample_images(64)
    assert torch.equal(images, again)


def test_sampler_returns_a_task_batch_with_one_generator():
    split = character_split("test")
    batch = EpisodeSampler(fake_omniglot(), split, num_way=5, num_support=2, num_query=3, seed=0).sample(8)
    assert isinstance(batch, TaskBatch) and len(batch) == 8
    assert batch.x_support.shape == (8, 10, 1, 28, 28) and batch.x_query.shape == (8, 15, 1, 28, 28)
    assert torch.equal(batch.y_support, torch.arange(5).repeat_interleave(2).expand(8, -1))
    assert torch.equal(batch.y_query.sort(1).values, torch.arange(5).repeat_interleave(3).expand(8, -1))
    # the query of an episode is the rest of the drawings of its classes, labelled by the class of its support
    characters = lambda x: (x[..., 0, 5, 5] * 255).round().long()  # noqa: E731
    for task in range(8):
        for label in range(5):
            assert characters(batch.x_query[task][batch.y_query[task] == label]).unique().tolist() == \
                characters(batch.x_support[task][batch.y_support[task] == label]).unique().tolist()
    # one generator: a second batch differs from the first, and the same seed gives the same batches
    sampler = EpisodeSampler(fake_omniglot(), split, num_way=5, num_support=2, num_query=3, seed=0)
    first, second = sampler.sample(8), sampler.sample(8)
    assert torch.equal(first.x_query, batch.x_query) and not torch.equal(second.y_query, first.y_query)


@pytest.mark.parametrize("protocol", ["cs330", "published"])
def test_episodes_name_the_split_class_behind_each_label(protocol):
    """batch.classes[b, n] is the class of label n: its character (class // rotations) drew the images labelled n,
    turned by (class % rotations) quarter turns; the classes of an episode are distinct."""
    split = character_split("train", protocol)
    batch = EpisodeSampler(fake_omniglot(), split, num_way=6, num_support=1, num_query=2, seed=3).sample(16)
    assert isinstance(batch, EpisodeBatch) and batch.classes.shape == (16, 6) and batch.classes.dtype == torch.int64
    assert all(len(set(row.tolist())) == 6 for row in batch.classes)
    assert int(batch.classes.min()) >= 0 and int(batch.classes.max()) < split.num_classes
    for task in range(16):
        for label in range(6):
            klass = int(batch.classes[task, label])
            character = int(split.characters[klass // split.num_rotations])
            image = batch.x_support[task, label, 0]
            upright = torch.rot90(image, -(klass % split.num_rotations), dims=(0, 1))
            assert round(float(upright[5, 5]) * 255) == character % 256
            assert batch[task:task + 1].classes.tolist() == [batch.classes[task].tolist()]


def test_as_sequences_lays_out_support_rows_in_class_order_and_the_shuffled_query_last():
    sampler = EpisodeSampler(fake_omniglot(), character_split("test"), num_way=4, num_support=3, num_query=1, seed=1)
    batch = sampler.sample(6)
    images, labels = as_sequences(batch)
    assert images.shape == (6, 4, 4, 784) and labels.shape == (6, 4, 4, 4)
    assert torch.equal(labels[:, :3].argmax(-1), torch.arange(4).expand(6, 3, -1))
    assert torch.equal(labels[:, 3].argmax(-1), batch.y_query)
    assert torch.equal(images[:, 3], batch.x_query.flatten(2))
    assert torch.equal(images[:, 1, 2], batch.x_support[:, 2 * 3 + 1].flatten(1))  # drawing 1 of class 2
    with pytest.raises(ValueError, match="one query image per class"):
        as_sequences(EpisodeSampler(fake_omniglot(), character_split("test"), 4, 3, 2, seed=1).sample(2))


def test_task_batch_moves_and_slices_every_field_of_a_subclass():
    tasks = RegressionTasks("sinusoid_or_line", seed=0).sample(6, 2, 3)
    part = tasks[2:4]
    assert isinstance(part, RegressionTaskBatch) and len(part) == 2
    assert torch.equal(part.kind, tasks.kind[2:4]) and torch.equal(part.y_query, tasks.y_query[2:4])
    assert isinstance(tasks.to("cpu"), RegressionTaskBatch)
    with pytest.raises(TypeError, match="slice"):
        tasks[0]


def test_rotated_classes_are_rotated_copies():
    images = torch.arange(2 * 3 * 1 * 2 * 2).view(2, 3, 1, 2, 2)
    turns = torch.tensor([[0, 1, 2], [3, 0, 1]])
    rotated = rotate_by_class(images, turns)
    for b in range(2):
        for n in range(3):
            assert torch.equal(rotated[b, n], torch.rot90(images[b, n], int(turns[b, n]), dims=(-2, -1)))


def test_split_support_query_keeps_support_order_and_shuffles_the_query():
    images = torch.arange(3 * 5).float().view(1, 3, 5, 1, 1, 1).expand(4, -1, -1, -1, -1, -1)  # class * 5 + drawing
    batch = split_support_query(images, 2, torch.Generator().manual_seed(0))
    support, support_labels, query, query_labels = batch.x_support, batch.y_support, batch.x_query, batch.y_query
    assert support_labels.tolist() == [[0, 0, 1, 1, 2, 2]] * 4
    assert torch.equal(support.flatten(1) // 5, support_labels.float())
    assert torch.equal(query.flatten(1) // 5, query_labels.float())
    assert sorted(query_labels[0].tolist()) == [0, 0, 0, 1, 1, 1, 2, 2, 2]
    assert len({tuple(row.tolist()) for row in query_labels}) > 1  # shuffled differently per episode


def test_sampler_rejects_impossible_episodes():
    with pytest.raises(ValueError, match="exceeds the 20 drawings"):
        EpisodeSampler(fake_omniglot(), character_split("train"), num_way=5, num_support=10, num_query=11)
    with pytest.raises(ValueError, match="exceeds the 100 classes"):
        EpisodeSampler(fake_omniglot(), character_split("val"), num_way=101, num_support=1, num_query=1)
