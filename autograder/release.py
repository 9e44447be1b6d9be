"""Releases: student skeletons from the solutions, the student bundle, the Gradescope zips.

    python -m autograder release           # rewrite hwN/ skeletons, build dist/student and dist/gradescope/hwN.zip
    python -m autograder release --check   # exit 1 if a committed skeleton differs from its solution
"""
from __future__ import annotations

import hashlib
import json
import re
import shutil
import stat
import zipfile
from pathlib import Path

from autograder.fences import BEGIN, END, find_fences, make_skeleton
from autograder.kit import STUDENT_PACKAGES, Kit, is_generated
from autograder.parts import COURSE_FILE, graded_parts, handout_for_course, manifest_entry, read_course
from autograder.reports import outline, rubric_fingerprints, rubric_mismatches, templates
from harness.submit import MANIFEST

# The student release: the top files of release/student/ (README, pytest configuration, ...), the
# licence and requirements, and whole folders: the harness, the shared packages and the homeworks.
# Nothing under autograder/ ships; the leak check below proves that no private content came along.
STUDENT_TOP_FILES = ["LICENSE", "requirements.txt"]
STUDENT_TOP_FOLDER = "release/student"
TEMPLATES = Path(__file__).resolve().parent / "gradescope"
# A fenced block shorter than this (normalized) is too generic to be searched for as a leak.
MIN_LEAK_FINGERPRINT = 30


class ReleaseError(RuntimeError):
    """The release cannot be built as it should; the message lists the problems."""


# --------------------------------------------------------------------------- skeletons


QUESTIONS = Path("report/questions.md")  # a homework's written part (autograder/reports.py)
REFERENCE_FIGURES = Path("docs/benchmarks/written")  # the reference's answers to it, by homework: never shipped


def expected_skeleton(kit: Kit, hw: str) -> dict[Path, bytes]:
    """The generated files of ``hwN/``: the skeleton of each graded module, submission.json, and the
    report templates made from the written part's questions."""
    files = {relative: make_skeleton((kit.solution_dir(hw) / relative).read_text(), f"{hw}/{relative}").encode()
             for relative in kit.fenced_files(hw)}
    files[Path(MANIFEST)] = submission_manifest(kit, hw).encode()
    questions = kit.skeleton_dir(hw) / QUESTIONS
    if questions.is_file():
        for name, text in templates(hw, questions).items():
            files[QUESTIONS.parent / name] = text.encode()
    return files


def rubric_path(kit: Kit, hw: str) -> Path:
    """The staff's rubric of a homework's written part: private, never shipped."""
    return kit.private_root / "rubrics" / f"{hw}.md"


def submission_manifest(kit: Kit, hw: str) -> str:
    """``hwN/submission.json``: what ``python -m harness submit`` packs, and the grader's limits on it."""
    from autograder.grading import MAX_CHECKPOINT_MB, MAX_CODE_KB, MAX_HELPERS

    checkpoints, excluded = kit.reference_checkpoints(hw), kit.left_out(hw)
    package = {p.parts[0] for p in kit.package_files(hw) if p.name != MANIFEST}
    spec = {
        "homework": hw,
        "files": [p.as_posix() for p in kit.graded_files(hw)],
        "checkpoints": sorted(p.name for p in checkpoints.glob("*.pt") if Path("checkpoints", p.name) not in excluded)
                       if checkpoints.is_dir() else [],
        "parts": {part.name: manifest_entry(part) for part in graded_parts(kit.root, hw)},
        "official": sorted(package | {p.parts[0] for p in kit.graded_files(hw)} | {"__init__.py", MANIFEST}),
        "max_file_kb": MAX_CODE_KB,
        "max_checkpoint_mb": MAX_CHECKPOINT_MB,
        "max_helpers": MAX_HELPERS,
    }
    return json.dumps(spec, indent=1) + "\n"


def skeleton_drift(kit: Kit, hw: str) -> list[str]:
    """Every way the committed ``hwN/`` differs from what the solutions generate, and every file held twice."""
    problems = []
    target = kit.skeleton_dir(hw)
    for relative, content in expected_skeleton(kit, hw).items():
        path = target / relative
        if not path.is_file():
            problems.append(f"{hw}/{relative} is missing")
        elif path.read_bytes() != content:
            problems.append(f"{hw}/{relative} differs from what autograder/private/solutions/{hw}/{relative} generates")
    questions = kit.skeleton_dir(hw) / QUESTIONS
    if questions.is_file():
        problems += rubric_mismatches(questions, rubric_path(kit, hw))
    graded = set(kit.fenced_files(hw))
    for relative in kit.solution_files(hw):
        if relative not in graded:
            problems.append(f"autograder/private/solutions/{hw}/{relative} has no fence: a provided file lives in "
                            f"{hw}/ only (move it there)")
    for relative in kit.package_files(hw):
        text = (target / relative).read_text(errors="replace") if relative.suffix == ".py" else ""
        if relative not in graded and (BEGIN in text or END in text):
            problems.append(f"{hw}/{relative} contains a solution fence: solutions live in autograder/private/solutions/{hw}/")
    return problems


def write_skeletons(kit: Kit, hw: str) -> list[Path]:
    """Regenerate the generated files of ``hwN/`` from the solutions; return the files that changed."""
    changed = []
    for relative, content in expected_skeleton(kit, hw).items():
        path = kit.skeleton_dir(hw) / relative
        if not path.is_file() or path.read_bytes() != content:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            changed.append(path)
    return changed


# --------------------------------------------------------------------------- the student bundle


def student_files(kit: Kit) -> list[tuple[Path, Path]]:
    """Every file of the student release: (source, path in the release). The parts that the course does
    not grade stay out (autograder/parts.py)."""
    files = [(kit.root / name, Path(name)) for name in STUDENT_TOP_FILES if (kit.root / name).is_file()]
    top = kit.root / STUDENT_TOP_FOLDER
    files += [(path, path.relative_to(top)) for path in sorted(top.rglob("*")) if path.is_file()] if top.is_dir() else []
    for folder in STUDENT_PACKAGES:
        files += _tree(kit.root, folder)
    for hw in kit.homeworks():
        files += _without_parts(kit, hw, _tree(kit.root, hw), Path(hw))
    return files


def _without_parts(kit: Kit, hw: str, files: list[tuple[Path, Path]], base: Path) -> list[tuple[Path, Path]]:
    """``files`` less those of the parts of ``hw`` that the course does not grade; ``base`` is the folder
    (relative to the kit) whose names the parts' files are relative to: ``hwN/``, its solutions folder
    (same names) or its hidden tests folder (test files at the top)."""
    excluded = kit.left_out(hw)
    inside = [(source, relative, relative.relative_to(base)) for source, relative in files]
    return [(source, relative) for source, relative, name in inside
            if name not in excluded and not (len(name.parts) == 1 and Path("tests", name.name) in excluded)]


def release_text(kit: Kit, source: Path, relative: Path) -> bytes | None:
    """The content a released file gets where it differs from its source: a handout as the course gives it
    (autograder/parts.py). None: copy the file as it is."""
    hw = relative.parts[0]
    if len(relative.parts) != 2 or relative.name != "README.md" or hw not in kit.homeworks():
        return None
    return handout_for_course(source.read_text(), read_course(kit.root).get(hw, {})).encode()


def _tree(root: Path, folder: str) -> list[tuple[Path, Path]]:
    """Source files under ``root/folder`` (no caches, checkpoints, logs or prepared data)."""
    return [(path, path.relative_to(root)) for path in sorted((root / folder).rglob("*"))
            if path.is_file() and not is_generated(path.relative_to(root))]


def build_student_release(kit: Kit, out: Path) -> Path:
    """Copy the student files into ``out/student`` and prove that nothing private came along."""
    target = out / "student"
    if target.exists():
        shutil.rmtree(target)
    for source, relative in student_files(kit):
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / relative)
        content = release_text(kit, source, relative)
        if content is not None:
            (target / relative).write_bytes(content)
    problems = find_leaks(kit, target)
    if problems:
        raise ReleaseError("the student release would leak private material:\n  " + "\n  ".join(problems))
    problems = dead_links(target)
    if problems:
        raise ReleaseError("the student release has links to files it does not hold:\n  " + "\n  ".join(problems))
    return target


MARKDOWN_LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)[^)]*\)")


def dead_links(release: Path) -> list[str]:
    """Relative links of the release's Markdown files (and images) that lead to no file inside it."""
    problems = []
    for page in sorted(release.rglob("*.md")):
        for target in MARKDOWN_LINK.findall(page.read_text(errors="replace")):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                continue  # a web address, mailto:, or an anchor in the same page
            if page.parent.name == "report" and target.startswith("figures/"):
                continue  # a report template's figure slot: the student's command draws it
            resolved = (page.parent / target.split("#")[0]).resolve()
            if not resolved.is_relative_to(release.resolve()) or not resolved.exists():
                problems.append(f"{page.relative_to(release)}: {target}")
    return problems


def _normalized(text: str) -> str:
    return "\n".join(line.strip() for line in text.splitlines() if line.strip())


def find_leaks(kit: Kit, release: Path) -> list[str]:
    """Solution code, hidden tests or reference checkpoints found in a release folder."""
    private_hashes = {}
    fingerprints = []
    for hw in kit.homeworks():
        for relative in kit.fenced_files(hw):
            path = kit.solution_dir(hw) / relative
            private_hashes[_sha256(path)] = f"autograder/private/solutions/{hw}/{relative}"
            for fence in find_fences(path.read_text(), str(path)):
                block = _normalized("\n".join(fence.code))
                if len(block) >= MIN_LEAK_FINGERPRINT:
                    fingerprints.append((block, f"the solution of {fence.owner or relative} ({hw}/{relative}:{fence.begin + 1})"))
        hidden = kit.hidden_tests(hw)
        for path in hidden.rglob("*") if hidden.is_dir() else []:
            if path.is_file():
                private_hashes[_sha256(path)] = f"hidden test {path.relative_to(kit.root)}"
        checkpoints = kit.reference_checkpoints(hw)
        for path in checkpoints.rglob("*") if checkpoints.is_dir() else []:
            if path.is_file():
                private_hashes[_sha256(path)] = f"reference checkpoint {path.relative_to(kit.root)}"
        rubric, questions = rubric_path(kit, hw), kit.skeleton_dir(hw) / QUESTIONS
        figures = kit.root / REFERENCE_FIGURES / hw
        for path in figures.iterdir() if figures.is_dir() else []:
            private_hashes[_sha256(path)] = f"the reference's answer {path.relative_to(kit.root)}"
        if rubric.is_file() and questions.is_file():
            private_hashes[_sha256(rubric)] = f"the rubric {rubric.relative_to(kit.root)}"
            fingerprints += [(line, f"a line of the rubric {rubric.relative_to(kit.root)}")
                             for line in rubric_fingerprints(questions, rubric)]
    problems = []
    for path in sorted(p for p in release.rglob("*") if p.is_file()):
        relative = path.relative_to(release)
        if relative.parts[0] == "autograder":
            problems.append(f"{relative}: the staff's folder")
        digest = _sha256(path)
        if digest in private_hashes:
            problems.append(f"{relative}: a copy of {private_hashes[digest]}")
        if path.suffix not in {".py", ".md", ".tex", ".txt", ".sh", ".ini", ".cfg", ".toml", ".json", ""}:
            continue
        text = path.read_text(errors="replace")
        if path.suffix == ".py" and (BEGIN in text or END in text):  # docs may name the markers
            problems.append(f"{relative}: contains a solution fence marker")
        normalized = _normalized(text)
        problems.extend(f"{relative}: contains {where}" for block, where in fingerprints if block in normalized)
    return problems


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --------------------------------------------------------------------------- Gradescope


def gradescope_files(kit: Kit, hw: str) -> list[tuple[Path, Path]]:
    """What the autograder of one homework needs: (source, path in the zip)."""
    files = [(kit.root / name, Path(name)) for name in ["requirements.txt", "pytest.ini", "conftest.py", "LICENSE", COURSE_FILE]
             if (kit.root / name).is_file()]
    for folder in STUDENT_PACKAGES:
        files += _tree(kit.root, folder)
    files += [(path, relative) for path, relative in _tree(kit.root, "autograder")
              if relative.parts[1] not in {"private", "tests"}]  # the grader's code
    private = kit.private_root.relative_to(kit.root)
    for folder in (private / "solutions" / hw, private / "hidden_tests" / hw):
        files += _without_parts(kit, hw, _tree(kit.root, folder.as_posix()), folder)
    return files + _without_parts(kit, hw, _tree(kit.root, hw), Path(hw))


def build_gradescope_zip(kit: Kit, hw: str, out: Path) -> Path:
    """``out/gradescope/hwN.zip`` with ``setup.sh`` and ``run_autograder`` at its root."""
    target = out / "gradescope" / f"{hw}.zip"
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for name in ("setup.sh", "run_autograder"):
            script = (TEMPLATES / name).read_text().replace("@HOMEWORK@", hw)
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFREG | 0o755) << 16
            archive.writestr(info, script)
        for source, relative in gradescope_files(kit, hw):
            content = release_text(kit, source, relative)
            if content is None:
                archive.write(source, str(relative))
            else:
                archive.writestr(str(relative), content)
    return target


# --------------------------------------------------------------------------- command


def main(args, kit: Kit | None = None) -> int:
    kit = kit or Kit()
    homeworks = [kit.check_homework(hw) for hw in args.homeworks] or kit.homeworks()
    if args.check:
        problems = [problem for hw in homeworks for problem in skeleton_drift(kit, hw)]
        for problem in problems:
            print(f"drift: {problem}")
        if problems:
            print("The skeletons are out of step with the solutions: run  python -m autograder release")
            return 1
        print(f"skeletons match the solutions: {', '.join(homeworks) or 'no homework yet'}")
        return 0
    for hw in homeworks:
        for path in write_skeletons(kit, hw):
            print(f"wrote {path.relative_to(kit.root)}")
    out = Path(args.out)
    try:
        student = build_student_release(kit, out)
    except ReleaseError as error:
        print(f"error: {error}")
        return 1
    print(f"student release: {student} (checked: no solution code, hidden test or reference checkpoint)")
    for hw in homeworks:
        print(f"gradescope autograder: {build_gradescope_zip(kit, hw, out)}")
        questions = kit.skeleton_dir(hw) / QUESTIONS
        if questions.is_file():
            path = out / "gradescope" / f"{hw}_written_outline.md"
            path.write_text(outline(hw, questions))
            print(f"gradescope written part: {path} (docs/staff-guide.md, The written part)")
    return 0
