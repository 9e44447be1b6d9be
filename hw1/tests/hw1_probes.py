"""Probes of hw1: they run in the worker, call your code on seeded inputs and return tensors.

Fake characters encode their identity in three pixels (character // 256,
character % 256, drawing), so the tests can tell which drawing landed where.
"""
import numpy as np
import torch


def encoded_characters(num_characters: int, num_drawings: int = 20) -> np.ndarray:
    """uint8 [C, D, 28, 28] whose pixels 0, 1, 2 spell (character // 256, character % 256, drawing)."""
    images = np.zeros((num_characters, num_drawings, 28, 28), dtype=np.uint8)
    index = np.arange(num_characters)
    images[:, :, 0, 0] = (index // 256)[:, None]
    images[:, :, 0, 1] = (index % 256)[:, None]
    images[:, :, 0, 2] = np.arange(num_drawings)[None, :]
    return images


def decode(images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(character, drawing) of flattened images [..., 784] made by ``encoded_characters``."""
    pixels = (images[..., :3] * 255).round().long()
    return pixels[..., 0] * 256 + pixels[..., 1], pixels[..., 2]


def fake_episodes(num_classes: int, num_samples_per_class: int, batch_size: int, seed: int,
                  num_characters: int = 40) -> dict:
    from hw1.episodes import sample_episodes

    characters = torch.from_numpy(encoded_characters(num_characters))
    images, labels = sample_episodes(characters, num_classes, num_samples_per_class, batch_size,
                                     torch.Generator().manual_seed(seed))
    return {"images": images, "labels": labels}


def split_characters(split: str, batches: int, seed: int = 0) -> torch.Tensor:
    """Characters that DataGenerator(split) draws, on a fake Omniglot with the real number of characters."""
    from data.omniglot import Omniglot
    from hw1.episodes import DataGenerator

    names = np.array([f"character{i}" for i in range(1623)])
    fake = Omniglot(encoded_characters(1623), names, names, np.ones(1623, dtype=bool))
    tasks = DataGenerator(5, 2, split, seed=seed, omniglot=fake)
    seen = [decode(tasks.sample_batch(64)[0])[0].flatten() for _ in range(batches)]
    return torch.cat(seen).unique()


def seeded_task_batch(seed: int, num_classes: int, num_shot: int, batch_size: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """Random images and valid labels in the homework's layout (support in order, query permuted)."""
    generator = torch.Generator().manual_seed(seed)
    rows = num_shot + 1
    images = torch.rand(batch_size, rows, num_classes, 784, generator=generator)
    labels = torch.eye(num_classes).repeat(batch_size, rows, 1, 1)
    for task in range(batch_size):
        labels[task, -1] = labels[task, -1, torch.randperm(num_classes, generator=generator)]
    return images, labels


def mann_outputs(seed: int, num_classes: int = 3, num_shot: int = 2, hidden_dim: int = 16,
                 query_labels: torch.Tensor | None = None, redrawn_row: int | None = None) -> dict:
    """Logits, query loss and parameter gradients of a seeded MANN on a seeded batch
    (``redrawn_row``: that row's images replaced by other random images)."""
    from hw1.mann import MANN, query_loss

    images, labels = seeded_task_batch(seed, num_classes, num_shot)
    if redrawn_row is not None:
        images[:, redrawn_row] = torch.rand(images[:, redrawn_row].shape, generator=torch.Generator().manual_seed(seed + 1))
    torch.manual_seed(seed)
    model = MANN(num_classes, num_shot + 1, hidden_dim)
    shown = labels.clone()
    if query_labels is not None:
        shown[:, -1] = query_labels
    logits = model(images, shown)
    loss = query_loss(logits, labels)
    loss.backward()
    return {"logits": logits.detach(), "loss": loss.detach(), "labels_after": shown,
            "gradients": {name: p.grad for name, p in model.named_parameters()}}


def loss_and_gradient(logits: torch.Tensor, labels: torch.Tensor) -> dict:
    from hw1.mann import query_loss

    logits = logits.clone().requires_grad_(True)
    loss = query_loss(logits, labels)
    loss.backward()
    return {"loss": loss.detach(), "gradient": logits.grad}


def short_training(train_characters: torch.Tensor, steps: int, seed: int = 0) -> dict:
    """A small MANN meta-trained 2-way 1-shot on the training characters it is given (uint8 [C, 20, 28, 28]):
    its training losses and its weights, which the test evaluates on tasks of its own."""
    from common.adam import Adam  # torch.optim's, without its 67 MB import of torch._dynamo
    from hw1.episodes import sample_episodes
    from hw1.mann import MANN, query_loss

    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    model = MANN(2, 2, 64)
    optimizer = Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(steps):
        images, labels = sample_episodes(train_characters, 2, 2, 32, generator)
        loss = query_loss(model(images, labels), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return {"losses": torch.tensor(losses), "state_dict": model.state_dict()}


def query_loss_of_weights(state_dict: dict | None, images: torch.Tensor, labels: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """The query loss of a 2-way MANN(hidden 64) with these weights (None: a fresh seeded one) on the given tasks."""
    from hw1.mann import MANN, query_loss

    torch.manual_seed(seed)
    model = MANN(2, 2, 64)
    if state_dict is not None:
        model.load_state_dict(state_dict)
    with torch.no_grad():
        return query_loss(model(images, labels), labels)


def checkpoint_logits(checkpoint: dict, pixels: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """The submitted model's query logits [B, N, N] on uint8 images [B, K+1, N, 784] (ink = 255);
    the query labels it receives are zeros. The grader runs a MANN checkpoint with the reference's code."""
    from hw1.models import build_model

    model = build_model(checkpoint["kind"], checkpoint["config"])
    model.load_state_dict(checkpoint["state_dict"])
    model.eval()
    # uint8 crossed the pipe (a quarter of the bytes) and becomes float a chunk at a time. 5 tasks (a few dozen
    # images) at a time keep a conv encoder's activations small: 20 took 100 MB more in the grader's worker.
    with torch.no_grad():
        return torch.cat([model(pixels[i:i + 5].float() / 255, labels[i:i + 5])[:, -1] for i in range(0, len(pixels), 5)])


def extension_outputs(seed: int, num_classes: int = 5, num_shot: int = 1, query_labels: torch.Tensor | None = None,
                      width: int = 64) -> torch.Tensor:
    """Logits of a seeded BlackBoxLearner (encoder ``width``) on a seeded batch (eval mode)."""
    from hw1.extension import BlackBoxLearner

    images, labels = seeded_task_batch(seed, num_classes, num_shot)
    if query_labels is not None:
        labels[:, -1] = query_labels
    torch.manual_seed(seed)
    model = BlackBoxLearner(num_classes, num_shot + 1, width=width).eval()
    with torch.no_grad():
        return model(images, labels)
