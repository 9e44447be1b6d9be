"""Episodes per second: our in-memory sampler against reading PNG files per episode.

    python -m benchmarks.sampler_speed [--repeats 5] [--out docs/benchmarks/sampler.md]

The PNG loader works as CS330's homework loader does: the 28x28 drawings lie
as PNG files, one folder per character, and every episode picks characters
and drawings at random and reads each file with ``imageio``. Both loaders build
the same batches (meta-batch 32, 5-way, 1 support + 1 query drawing per class)
from the same characters, side by side in one process; we report the median of
several timed rounds and the ratio of the medians.
"""
from __future__ import annotations

import argparse
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path

import imageio.v2 as imageio
import numpy as np
import torch

from data.episodes import EpisodeSampler  # noqa: E402
from data.omniglot import load_omniglot  # noqa: E402
from data.splits import character_split  # noqa: E402

BATCH, WAY, PER_CLASS = 32, 5, 2


def write_pngs(omniglot, characters, root: Path) -> list[Path]:
    """The drawings of ``characters`` as 28x28 PNGs (paper white, as in CS330's resized set)."""
    folders = []
    for index in characters:
        folder = root / str(omniglot.alphabets[index]) / str(omniglot.characters[index])
        folder.mkdir(parents=True)
        for drawing, image in enumerate(omniglot.images[index]):
            imageio.imwrite(folder / f"{drawing:02d}.png", 255 - image)
        folders.append(folder)
    return folders


def png_batch(folders: list[Path], rng: random.Random) -> torch.Tensor:
    """One meta-batch read from PNG files: float [B, N, S, 784]."""
    batch = np.zeros((BATCH, WAY, PER_CLASS, 784), dtype=np.float32)
    for b in range(BATCH):
        for n, folder in enumerate(rng.sample(folders, WAY)):
            files = rng.sample(sorted(os.listdir(folder)), PER_CLASS)
            for s, name in enumerate(files):
                batch[b, n, s] = 1.0 - imageio.imread(folder / name).reshape(784) / 255.0
    return torch.from_numpy(batch)


def episodes_per_second(make_batch, seconds: float) -> float:
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        make_batch()
        count += BATCH
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of one timed round")
    parser.add_argument("--out", type=Path, default=Path("docs/benchmarks/sampler.md"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    omniglot = load_omniglot()
    split = character_split("train")
    sampler = EpisodeSampler(omniglot, split, num_way=WAY, num_support=1, num_query=1, seed=0)
    with tempfile.TemporaryDirectory() as tmp:
        folders = write_pngs(omniglot, split.characters, Path(tmp))
        rng = random.Random(0)
        png_batch(folders, rng), sampler.sample(BATCH)  # warm the file cache and the allocator
        ours, pngs = [], []
        for _ in range(args.repeats):  # interleaved, so drift in machine load hits both alike
            ours.append(episodes_per_second(lambda: sampler.sample(BATCH).flatten(-3), args.seconds))
            pngs.append(episodes_per_second(lambda: png_batch(folders, rng), args.seconds))
    ours_median, png_median = statistics.median(ours), statistics.median(pngs)
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor()) if os.path.exists("/proc/cpuinfo") else platform.processor()
    report = f"""# Episode sampling speed

Command: `python -m benchmarks.sampler_speed --repeats {args.repeats} --seconds {args.seconds}`

Machine: {cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, torch {torch.__version__}, one thread.

Meta-batches of {BATCH} episodes, {WAY}-way, {PER_CLASS} drawings per class (1 support + 1 query), from the
{len(split.characters)} training characters of CS330's split. {args.repeats} interleaved rounds of {args.seconds:.0f} s each.

| loader | episodes/s (median) | all rounds |
| --- | ---: | --- |
| in-memory uint8 array, tensor indexing (`data/episodes.py`) | {ours_median:,.0f} | {", ".join(f"{x:,.0f}" for x in ours)} |
| PNG file per image, read with imageio (CS330's way) | {png_median:,.0f} | {", ".join(f"{x:,.0f}" for x in pngs)} |

**Ratio: {ours_median / png_median:,.0f}x** more episodes per second with the in-memory sampler.
"""
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report)
    print(report)


if __name__ == "__main__":
    main()
