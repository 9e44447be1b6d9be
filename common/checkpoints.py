"""One checkpoint schema for every homework: what a training command saves and the grader reads.

A checkpoint is data, never a program: ``torch.load(weights_only=True)`` reads it, and a homework's
``build_model(kind, config)`` (in ``hwN/models.py``) rebuilds the model from it. It holds

    kind        which model: "mann" or "extension" (hw1), "maml" or "protonet" (hw2),
                "cnp", "latent", "ensemble" or "svgd" (hw3)
    config      the model's constructor arguments: plain numbers, strings and booleans
    state_dict  its weights, on the CPU
    task        what it was trained for (plain data): ways and shots, the task family, the split protocol
    metadata    how it was trained and what it measured: steps, seconds, the command's arguments, ...
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

KEYS = ("kind", "config", "state_dict", "task", "metadata")


def save_checkpoint(path: Path, kind: str, config: dict, model: nn.Module, task: dict, **metadata) -> None:
    """Write ``path`` (its folder is created) in the schema above."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}
    torch.save({"kind": kind, "config": config, "state_dict": state, "task": task, "metadata": metadata}, path)


def load_checkpoint(path: Path) -> dict:
    """Read a checkpoint of this kit (weights only, on the CPU); a clear error when there is none or it is not one."""
    if not path.is_file():
        raise SystemExit(f"error: no checkpoint {path}; train first (see the handout)")
    checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(checkpoint, dict) or not set(KEYS) <= set(checkpoint):
        raise SystemExit(f"error: {path} is not a checkpoint of this kit's schema (keys {', '.join(KEYS)}); "
                         f"train it again with the homework's command")
    return checkpoint
