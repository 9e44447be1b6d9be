"""Character splits of Omniglot: which characters a model may train on, and which it is tested on.

Two protocols, both seeded and so the same on every machine:

``cs330``      CS330's homework split: the 1623 characters shuffled with ``seed``,
               then 1100 for training, 100 for validation and 423 for testing.
               No augmentation.
``published``  the protocol of the published Omniglot tables (Vinyals et al. 2016;
               Finn et al. 2017; Snell et al. 2017): 423 characters for testing, the
               others for training (the papers train on all 1200; here 1100 train and
               100 validation);
               each character rotated by 0, 90, 180 and 270 degrees counts as four
               classes, in every split. The characters are drawn with ``seed`` as
               in Finn et al.'s code; Vinyals et al.'s exact lists are not shipped,
               so numbers are comparable in protocol, not task for task.

A class is an index into ``range(num_characters * num_rotations)``: class ``c``
is character ``c // num_rotations`` turned by ``90 * (c % num_rotations)`` degrees.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PROTOCOLS = ("cs330", "published")
SPLITS = ("train", "val", "test")
SPLIT_SIZES = {"train": 1100, "val": 100, "test": 423}


@dataclass(frozen=True)
class Split:
    """The characters of one split, and how many rotations make classes of them."""

    name: str
    characters: np.ndarray  # int64 [C], indices into the prepared Omniglot
    num_rotations: int      # 1 (no rotation) or 4 (0, 90, 180, 270 degrees)

    @property
    def num_classes(self) -> int:
        return len(self.characters) * self.num_rotations


def character_split(split: str, protocol: str = "cs330", seed: int = 1, num_characters: int = 1623) -> Split:
    """The characters of ``split`` ("train", "val" or "test") under ``protocol``."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; choose one of {PROTOCOLS}")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {SPLITS}")
    if num_characters != sum(SPLIT_SIZES.values()):
        raise ValueError(f"the splits need all {sum(SPLIT_SIZES.values())} Omniglot characters, got {num_characters}")
    order = np.random.RandomState(seed).permutation(num_characters)
    start = 0
    for name in SPLITS:
        stop = start + SPLIT_SIZES[name]
        if name == split:
            return Split(split, np.sort(order[start:stop]), 4 if protocol == "published" else 1)
        start = stop
    raise AssertionError("unreachable")
