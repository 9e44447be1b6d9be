"""Omniglot: download (or copy), verify, resize to 28x28 and cache in one file.

    python -m data.omniglot                      # download the official zips
    python -m data.omniglot --source DIR         # or take them from a local folder
    OMNIGLOT_SOURCE=DIR python -m data.omniglot  # same as --source

The Omniglot data set (Lake, Salakhutdinov and Tenenbaum, 2015; MIT licence,
Copyright (c) 2015 Brenden Lake) has 1623 handwritten characters from 50
alphabets, 20 drawings of each, as 105x105 black-and-white PNGs. Cite:
B. M. Lake, R. Salakhutdinov, J. B. Tenenbaum (2015). Human-level concept
learning through probabilistic program induction. Science, 350(6266), 1332-1338.

The prepared cache is one uncompressed ``.npz`` file of about 25 MB:

    images      uint8 [1623, 20, 28, 28]  ink = 255, paper = 0
    alphabets   str   [1623]              e.g. "Alphabet_of_the_Magi"
    characters  str   [1623]              e.g. "character01"
    background  bool  [1623]              True for images_background.zip

Characters are sorted by (zip, alphabet, character) and drawings by file name,
so a character's index is the same on every machine.
"""
from __future__ import annotations

import argparse
import hashlib
import io
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

IMAGE_SIZE = 28
NUM_ALPHABETS = 50
NUM_CHARACTERS = 1623
NUM_DRAWINGS = 20
CACHE_VERSION = 1

URL = "https://github.com/brendenlake/omniglot/raw/master/python/{name}"
# name -> (md5 of the official zip, alphabets, characters) of that zip
ZIPS = {
    "images_background.zip": ("68d2efa1b9178cc56df9314c21c6e718", 30, 964),
    "images_evaluation.zip": ("6b91aef0f799c5bb55b94e3f2daec811", 20, 659),
}

PREPARE_COMMAND = "python -m data.omniglot"
DEFAULT_CACHE_DIR = Path(__file__).resolve().parent / "cache"


class OmniglotError(RuntimeError):
    """Omniglot is missing or not what it should be; the message says what to do."""


@dataclass(frozen=True)
class Omniglot:
    """The whole of Omniglot in memory (see the module docstring for the arrays)."""

    images: np.ndarray
    alphabets: np.ndarray
    characters: np.ndarray
    background: np.ndarray

    def names(self) -> list[str]:
        """``"Alphabet/characterNN"`` for every character index."""
        return [f"{a}/{c}" for a, c in zip(self.alphabets, self.characters)]


def cache_dir() -> Path:
    """Where the prepared data lives: ``$OMNIGLOT_CACHE`` or ``data/cache``."""
    return Path(os.environ.get("OMNIGLOT_CACHE", DEFAULT_CACHE_DIR))


def cache_file(directory: Path | None = None) -> Path:
    return (directory or cache_dir()) / f"omniglot{IMAGE_SIZE}_v{CACHE_VERSION}.npz"


def load_omniglot(directory: Path | None = None) -> Omniglot:
    """Load the prepared cache (well under a second), or say how to make it."""
    path = cache_file(directory)
    if not path.is_file():
        raise OmniglotError(
            f"Omniglot is not prepared: {path} does not exist.\n"
            f"Prepare it once with:  {PREPARE_COMMAND}\n"
            f"(no network? put the two official zips in a folder and run "
            f"{PREPARE_COMMAND} --source FOLDER)"
        )
    try:
        with np.load(path, allow_pickle=False) as arrays:
            data = Omniglot(**{name: arrays[name] for name in ("images", "alphabets", "characters", "background")})
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise OmniglotError(
            f"The Omniglot cache {path} is unreadable ({error}).\n"
            f"Delete it and run:  {PREPARE_COMMAND}"
        ) from error
    if data.images.shape != (NUM_CHARACTERS, NUM_DRAWINGS, IMAGE_SIZE, IMAGE_SIZE):
        raise OmniglotError(
            f"The Omniglot cache {path} has images of shape {data.images.shape}, expected "
            f"{(NUM_CHARACTERS, NUM_DRAWINGS, IMAGE_SIZE, IMAGE_SIZE)}.\n"
            f"Delete it and run:  {PREPARE_COMMAND}"
        )
    return data


# --------------------------------------------------------------------------- obtaining the zips


def md5sum(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download(name: str, directory: Path) -> Path:
    """Download one official zip into ``directory`` and check its md5."""
    target = directory / name
    expected_md5 = ZIPS[name][0]
    if target.is_file() and md5sum(target) == expected_md5:
        return target
    url = URL.format(name=name)
    print(f"Downloading {url}")
    partial = target.with_suffix(".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(partial, "wb") as out:
            shutil.copyfileobj(response, out)
    except (urllib.error.URLError, OSError) as error:
        partial.unlink(missing_ok=True)
        raise OmniglotError(
            f"Could not download {url} ({error}).\n"
            f"Without a network, download images_background.zip and images_evaluation.zip\n"
            f"from github.com/brendenlake/omniglot (folder python/) elsewhere, copy them into\n"
            f"a folder and run:  {PREPARE_COMMAND} --source FOLDER"
        ) from error
    actual_md5 = md5sum(partial)
    if actual_md5 != expected_md5:
        partial.unlink()
        raise OmniglotError(
            f"{url} downloaded with md5 {actual_md5}, expected {expected_md5}: the download "
            f"is corrupt or was altered. Run {PREPARE_COMMAND} again."
        )
    partial.replace(target)
    return target


def find_local_zips(source: Path) -> dict[str, Path]:
    """The two official zips in a local folder (no checksum: re-packed copies are fine)."""
    if not source.is_dir():
        raise OmniglotError(f"--source {source} is not a folder. Point it at the folder that holds {' and '.join(ZIPS)}.")
    missing = [name for name in ZIPS if not (source / name).is_file()]
    if missing:
        raise OmniglotError(
            f"{source} lacks {', '.join(missing)}. It must hold both {' and '.join(ZIPS)} "
            f"from github.com/brendenlake/omniglot (folder python/)."
        )
    return {name: source / name for name in ZIPS}


# --------------------------------------------------------------------------- reading and checking


def read_zip(path: Path) -> dict[tuple[str, str], list[str]]:
    """Map (alphabet, character) to the sorted PNG member names of one zip, and check the counts."""
    name = path.name
    _, expected_alphabets, expected_characters = ZIPS[name]
    try:
        with zipfile.ZipFile(path) as archive:
            members = [m for m in archive.namelist() if m.lower().endswith(".png")]
    except zipfile.BadZipFile as error:
        raise OmniglotError(f"{path} is not a valid zip ({error}). Replace it with the official {name}.") from error
    characters: dict[tuple[str, str], list[str]] = {}
    for member in members:
        parts = member.split("/")
        if len(parts) != 4:
            raise OmniglotError(
                f"{path}: unexpected entry {member!r}; the official zip holds "
                f"{name[:-4]}/<Alphabet>/characterNN/<drawing>.png"
            )
        characters.setdefault((parts[1], parts[2]), []).append(member)
    alphabets = {alphabet for alphabet, _ in characters}
    problems = []
    if len(alphabets) != expected_alphabets:
        problems.append(f"{len(alphabets)} alphabets, expected {expected_alphabets}")
    if len(characters) != expected_characters:
        problems.append(f"{len(characters)} characters, expected {expected_characters}")
    wrong = [f"{a}/{c} has {len(d)}" for (a, c), d in sorted(characters.items()) if len(d) != NUM_DRAWINGS]
    if wrong:
        problems.append(f"{len(wrong)} characters without {NUM_DRAWINGS} drawings ({', '.join(wrong[:3])})")
    if problems:
        raise OmniglotError(
            f"{path} is not the complete official Omniglot {name}: {'; '.join(problems)}.\n"
            f"Replace it with the official file from github.com/brendenlake/omniglot (folder python/) "
            f"and run {PREPARE_COMMAND} again."
        )
    return {key: sorted(characters[key]) for key in sorted(characters)}


def to_ink(png_bytes: bytes) -> np.ndarray:
    """One 105x105 drawing -> uint8 [28, 28] with ink = 255 (Pillow's LANCZOS resize)."""
    from PIL import Image

    with Image.open(io.BytesIO(png_bytes)) as image:
        small = image.convert("L").resize((IMAGE_SIZE, IMAGE_SIZE), Image.LANCZOS)
    return 255 - np.asarray(small, dtype=np.uint8)


def build_arrays(zips: dict[str, Path], progress: bool = True) -> dict[str, np.ndarray]:
    """Read both zips into the arrays of the cache."""
    from tqdm import tqdm

    images = np.zeros((NUM_CHARACTERS, NUM_DRAWINGS, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    alphabets, characters, background = [], [], []
    # disable=None: a bar on a terminal, none in logs
    bar = tqdm(total=NUM_CHARACTERS * NUM_DRAWINGS, desc="Resizing Omniglot", unit="img", disable=None if progress else True)
    for name in ZIPS:  # background first, then evaluation
        contents = read_zip(zips[name])
        with zipfile.ZipFile(zips[name]) as archive:
            for (alphabet, character), members in contents.items():
                index = len(alphabets)
                for drawing, member in enumerate(members):
                    images[index, drawing] = to_ink(archive.read(member))
                alphabets.append(alphabet)
                characters.append(character)
                background.append(name == "images_background.zip")
                bar.update(len(members))
    bar.close()
    if len(set(alphabets)) != NUM_ALPHABETS:
        raise OmniglotError(
            f"The two zips share alphabets ({len(set(alphabets))} distinct, expected {NUM_ALPHABETS}): "
            f"use the official images_background.zip and images_evaluation.zip."
        )
    return {
        "images": images,
        "alphabets": np.array(alphabets),
        "characters": np.array(characters),
        "background": np.array(background),
    }


def write_atomically(arrays: dict[str, np.ndarray], path: Path) -> None:
    """Write the cache so that a reader never sees a half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".omniglot-", suffix=".npz.tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            np.savez(stream, **arrays)
            stream.flush()
            os.fsync(stream.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes it 0600; every user of the machine may read the data
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def prepare(source: Path | None = None, directory: Path | None = None, force: bool = False, progress: bool = True) -> Path:
    """Make the cache if it is not there yet; return its path. Idempotent."""
    directory = directory or cache_dir()
    path = cache_file(directory)
    if path.is_file() and not force:
        load_omniglot(directory)  # a damaged cache says so, with the fix
        return path
    if source is not None:
        zips = find_local_zips(source)
    else:
        downloads = directory / "downloads"
        downloads.mkdir(parents=True, exist_ok=True)
        zips = {name: download(name, downloads) for name in ZIPS}
    write_atomically(build_arrays(zips, progress=progress), path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m data.omniglot", description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=os.environ.get("OMNIGLOT_SOURCE") or None,
                        help="folder holding images_background.zip and images_evaluation.zip "
                             "(default: $OMNIGLOT_SOURCE, else download them)")
    parser.add_argument("--cache", type=Path, default=None, help="where to write the cache (default: $OMNIGLOT_CACHE or data/cache)")
    parser.add_argument("--force", action="store_true", help="rebuild the cache even if it exists")
    args = parser.parse_args(argv)
    try:
        path = prepare(source=args.source, directory=args.cache, force=args.force)
    except OmniglotError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    data = load_omniglot(path.parent)
    print(f"Omniglot ready: {path} ({path.stat().st_size / 2**20:.1f} MiB, "
          f"{len(set(data.alphabets))} alphabets, {len(data.characters)} characters, "
          f"{data.images.shape[1]} drawings each)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
