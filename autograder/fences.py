"""Solution fences: the regions of a reference module that students write.

In a solution file a fence looks like this, at any indentation:

    def prototypes(embeddings, labels, num_way):
        \"\"\"...\"\"\"
        # BEGIN SOLUTION
        # The mean embedding of each class: [B, N, D].
        # Hint: one-hot labels turn the mean into a batched matrix product.
        one_hot = F.one_hot(labels, num_way).float()
        return one_hot.transpose(1, 2) @ embeddings / one_hot.sum(1).unsqueeze(-1)
        # END SOLUTION

The comment lines that open the fence are its hint. The skeleton keeps them as
a TODO and replaces the code by ``raise NotImplementedError``:

        # TODO: The mean embedding of each class: [B, N, D].
        #       Hint: one-hot labels turn the mean into a batched matrix product.
        raise NotImplementedError("TODO in prototypes(): see the comment above")

A fence at module level keeps only the TODO comment, so the module still imports.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

BEGIN = "# BEGIN SOLUTION"
END = "# END SOLUTION"
_DEF = re.compile(r"^(\s*)(?:async\s+)?(def|class)\s+(\w+)")


class FenceError(ValueError):
    """A solution file whose fences cannot be turned into a skeleton."""


@dataclass(frozen=True)
class Fence:
    """One fenced region: 0-based line numbers of its markers, its hint and its code."""

    begin: int
    end: int
    indent: str
    hint: list[str]
    code: list[str]
    owner: str  # the enclosing function or class, e.g. "ProtoNet.step"


def find_fences(source: str, filename: str = "<solution>") -> list[Fence]:
    """All fences of a solution file, checked for pairing, hint and content."""
    lines = source.splitlines()
    fences, begin = [], None
    for number, line in enumerate(lines):
        stripped = line.strip()
        if stripped == BEGIN:
            if begin is not None:
                raise FenceError(f"{filename}:{number + 1}: {BEGIN} inside the fence opened at line {begin + 1}")
            begin = number
        elif stripped == END:
            if begin is None:
                raise FenceError(f"{filename}:{number + 1}: {END} without a {BEGIN}")
            fences.append(_make_fence(lines, begin, number, filename))
            begin = None
        elif "BEGIN SOLUTION" in stripped or "END SOLUTION" in stripped:
            raise FenceError(f"{filename}:{number + 1}: a fence marker must stand alone on its line: {stripped!r}")
    if begin is not None:
        raise FenceError(f"{filename}:{begin + 1}: {BEGIN} is never closed by {END}")
    return fences


def _make_fence(lines: list[str], begin: int, end: int, filename: str) -> Fence:
    indent = lines[begin][: len(lines[begin]) - len(lines[begin].lstrip())]
    if lines[end][: len(lines[end]) - len(lines[end].lstrip())] != indent:
        raise FenceError(f"{filename}:{end + 1}: {END} is not indented like its {BEGIN} (line {begin + 1})")
    body = lines[begin + 1: end]
    hint = []
    for line in body:
        if not line.strip().startswith("#"):
            break
        text = line.strip()[1:]
        hint.append((text[1:] if text.startswith(" ") else text).rstrip())  # keep the hint's own indentation
    code = [line for line in body[len(hint):] if line.strip()]
    if not any(hint):
        raise FenceError(
            f"{filename}:{begin + 1}: the fence has no hint; open it with comment lines that tell "
            f"students what to compute (shapes included)"
        )
    if not code:
        raise FenceError(f"{filename}:{begin + 1}: the fence holds no code")
    for offset, line in enumerate(body):
        if line.strip() and not line.startswith(indent):
            raise FenceError(f"{filename}:{begin + offset + 2}: a line inside the fence is indented less than its markers")
    return Fence(begin, end, indent, hint, code, _owner(lines, begin, indent))


def _owner(lines: list[str], begin: int, indent: str) -> str:
    """Qualified name of the def/class blocks that enclose line ``begin``."""
    names, depth = [], len(indent)
    for line in reversed(lines[:begin]):
        match = _DEF.match(line)
        if match and len(match.group(1)) < depth:
            names.append(match.group(3))
            depth = len(match.group(1))
            if depth == 0:
                break
    return ".".join(reversed(names))


def make_skeleton(source: str, filename: str = "<solution>") -> str:
    """The student's version of a solution file: every fence becomes a TODO."""
    lines = source.splitlines()
    out, cursor = [], 0
    for fence in find_fences(source, filename):
        out.extend(lines[cursor: fence.begin])
        out.append(f"{fence.indent}# TODO: {fence.hint[0]}")
        out.extend(f"{fence.indent}#       {text}".rstrip() for text in fence.hint[1:])
        if fence.indent:
            where = f"{fence.owner}()" if fence.owner else filename
            out.append(f'{fence.indent}raise NotImplementedError("TODO in {where}: see the comment above")')
        cursor = fence.end + 1
    out.extend(lines[cursor:])
    return "\n".join(out) + ("\n" if source.endswith("\n") else "")


def has_fences(source: str) -> bool:
    return any(line.strip() == BEGIN for line in source.splitlines())


def fenced_lines(source: str) -> set[int]:
    """The 1-based numbers of the code lines inside the fences of a solution file (markers and hints excluded)."""
    lines = source.splitlines()
    inside = set()
    for fence in find_fences(source):
        for number in range(fence.begin + 1, fence.end):
            if lines[number].strip() and not lines[number].strip().startswith("#"):
                inside.add(number + 1)
    return inside
