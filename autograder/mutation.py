"""Mutation testing of a homework's tests, restricted to the code students write.

    python -m autograder mutate hw2 [--sample N] [--seed S] [--out docs/benchmarks]
    python -m autograder mutate hw3 --part abml    # one part of course.toml: its modules, its tests

Cosmic Ray (a mutation-testing library that runs any test command on each mutant,
one mutant at a time, in a file on disk) mutates a copy of the reference package:
comparison, arithmetic, boolean, constant and keyword changes. Mutants outside the
fenced regions (the provided code) are skipped. Each mutant is graded in two phases:

1. the public tests: a mutant that fails one of them is caught before the deadline;
2. the hidden tests, for the mutants that survived the public ones.

The copy keeps the reference's checkpoints, so the tests that judge checkpoints
pass unless the mutant breaks code they run; those test files run last, being the
slowest. A mutant that survives both phases either shows a missing test or is equivalent to
the reference (it computes the same thing); equivalent mutants are listed, with the
reason, in ``autograder/mutation_equivalents.txt``. The report goes to
``<out>/mutation_<hw>.md`` (``mutation_<hw>_<part>.md`` for one part, whose mutants are
judged by the part's own tests only); the exit code is 1 when a non-equivalent mutant survived.
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from autograder.fences import fenced_lines
from autograder.kit import Kit
from autograder.parts import Part, graded_parts

TIMEOUT_S = 600.0


@dataclass(frozen=True)
class Mutant:
    """One mutation of a graded file: where, which operator, and the changed line."""

    job_id: str
    file: str          # relative to the homework package, e.g. "maml.py"
    line: int          # 1-based
    operator: str
    occurrence: int
    before: str        # the line as it is in the reference, stripped
    after: str         # the mutated line, stripped

    @property
    def key(self) -> str:
        """What identifies a mutant across runs (line numbers move when the reference is edited)."""
        return f"{self.file} | {self.before} => {self.after}"


def test_command(kit: Kit, hw: str, impl_root: Path, phase: str, part: Part | None = None) -> str:
    """The shell command that tests the mutated copy: public or hidden tests (only the part's, for a part),
    stop at the first failure."""
    folder = kit.public_tests(hw) if phase == "public" else kit.hidden_tests(hw)
    chosen = [path for path in folder.glob("test_*.py") if part is None or path.name in part.tests]
    # Fast unit tests first, so that most mutants stop early (-x); the files that judge checkpoints last.
    files = [str(path) for path in sorted(chosen,
                                          key=lambda path: ("load_submitted_checkpoint" in path.read_text(), path.name))]
    return " ".join([sys.executable, "-m", "autograder.mutation", "--run-tests", str(impl_root),
                     "--kit-root", str(kit.root), "--", "-x", "-q", "-p", "no:randomly", *files])


def run_tests(impl_root: Path, kit_root: Path, pytest_args: list[str]) -> int:
    """One mutant's test run: no stale bytecode of an earlier mutant (same size, same second), then pytest."""
    for cache in impl_root.rglob("__pycache__"):
        shutil.rmtree(cache, ignore_errors=True)
    return subprocess.call([sys.executable, "-m", "pytest", "--impl", str(impl_root), *pytest_args], cwd=kit_root,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def write_config(path: Path, modules: list[Path], command: str) -> None:
    quoted = ", ".join(json.dumps(str(module)) for module in modules)
    path.write_text(f"""[cosmic-ray]
module-path = [{quoted}]
timeout = {TIMEOUT_S}
excluded-modules = []
test-command = {json.dumps(command)}

[cosmic-ray.distributor]
name = "local"
""")


def cosmic_ray(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "cosmic_ray.cli", *args], check=True, stdout=subprocess.DEVNULL)


def mutants_of(session: Path, impl: Path, hw: str) -> list[Mutant]:
    """The session's mutants, each with its changed line."""
    from cosmic_ray.work_db import WorkDB, use_db

    package = impl / hw
    found = []
    with use_db(str(session), WorkDB.Mode.open) as db:
        for item in db.work_items:
            mutation, = item.mutations
            source = Path(mutation.module_path).read_text().splitlines()
            line = mutation.start_pos[0]
            found.append(Mutant(item.job_id, str(Path(mutation.module_path).relative_to(package)), line,
                                mutation.operator_name, mutation.occurrence, source[line - 1].strip(), ""))
    return found


def skip(session: Path, job_ids: list[str], reason: str) -> None:
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome, WorkResult

    with use_db(str(session), WorkDB.Mode.open) as db:
        db.set_multiple_results(job_ids, WorkResult(worker_outcome=WorkerOutcome.SKIPPED, output=reason))


def outcomes(session: Path) -> dict[str, tuple[str, str]]:
    """job id -> (killed | survived | incompetent, the mutated line), for the mutants that ran."""
    from cosmic_ray.work_db import WorkDB, use_db
    from cosmic_ray.work_item import WorkerOutcome

    result = {}
    with use_db(str(session), WorkDB.Mode.open) as db:
        for job_id, work_result in db.results:
            if work_result.worker_outcome == WorkerOutcome.SKIPPED:
                continue
            added = [line[1:].strip() for line in (work_result.diff or "").splitlines()
                     if line.startswith("+") and not line.startswith("+++")]
            result[job_id] = (str(work_result.test_outcome.value if work_result.test_outcome else "incompetent"),
                              added[0] if added else "")
    return result


def read_equivalents(kit: Kit) -> dict[str, str]:
    """key -> reason, from ``autograder/mutation_equivalents.txt`` (lines ``file | before => after | reason``)."""
    equivalents, path = {}, kit.root / "autograder" / "mutation_equivalents.txt"
    if path.is_file():
        for line in path.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                file, change, reason = (part.strip() for part in line.split(" | ", 2))
                equivalents[f"{file} | {change}"] = reason
    return equivalents


def course_part(kit: Kit, hw: str, name: str) -> Part:
    """The graded part ``name`` of ``hw`` in course.toml, or a clear error naming the parts there are."""
    parts = {part.name: part for part in graded_parts(kit.root, hw)}
    if name not in parts:
        raise SystemExit(f"{hw} has no graded part {name!r} in course.toml; its graded parts: {', '.join(parts) or 'none'}")
    return parts[name]


def mutate(kit: Kit, hw: str, workdir: Path, sample: int | None, seed: int, part: Part | None = None) -> dict:
    """Both phases on the homework's fenced mutants (a part's: its modules, judged by its tests); returns the
    counts and the survivors."""
    shutil.rmtree(workdir, ignore_errors=True)
    impl = workdir / "impl"
    kit.assemble_reference(impl, [hw])  # the reference as a student's tree holds it, with its checkpoints
    graded = kit.graded_files(hw) if part is None else [Path(module) for module in part.modules]
    modules = [impl / hw / path for path in graded]
    fenced = {str(path.relative_to(impl / hw)): fenced_lines(path.read_text()) for path in modules}

    sessions = {}
    for phase in ("public", "hidden"):
        config, session = workdir / f"{phase}.toml", workdir / f"{phase}.sqlite"
        write_config(config, modules, test_command(kit, hw, impl, phase, part))
        cosmic_ray("init", str(config), str(session))
        sessions[phase] = (config, session)

    every = mutants_of(sessions["public"][1], impl, hw)
    in_fences = [m for m in every if m.line in fenced[m.file]]
    chosen = sorted(random.Random(seed).sample(in_fences, sample), key=lambda m: m.job_id) if sample else in_fences
    # The same mutants in the hidden session: job ids differ, the mutation specs do not.
    spec = {(m.file, m.operator, m.occurrence): m for m in chosen}
    hidden_ids = {(m.file, m.operator, m.occurrence): m.job_id for m in mutants_of(sessions["hidden"][1], impl, hw)}
    chosen_ids = {m.job_id for m in chosen}
    skip(sessions["public"][1], [m.job_id for m in every if m.job_id not in chosen_ids], "not drawn, or outside the fences")
    skip(sessions["hidden"][1], [job for key, job in hidden_ids.items() if key not in spec], "not drawn, or outside the fences")

    for phase in ("public", "hidden"):  # the unmutated copy must pass, or every mutant would look killed
        command = test_command(kit, hw, impl, phase, part).split(" ")
        if subprocess.call(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) != 0:
            raise SystemExit(f"the {phase} tests fail on the unmutated reference; run them first:\n"
                             f"  python -m pytest --impl solution {' '.join(command[command.index('--') + 1:])}")
    started = time.monotonic()
    config, session = sessions["public"]
    cosmic_ray("exec", str(config), str(session))
    public = outcomes(session)
    caught_publicly = [key for key, m in spec.items() if public[m.job_id][0] != "survived"]
    skip(sessions["hidden"][1], [hidden_ids[key] for key in caught_publicly], "killed by the public tests")
    config, session = sessions["hidden"]
    cosmic_ray("exec", str(config), str(session))
    hidden = outcomes(session)
    seconds = time.monotonic() - started

    equivalents = read_equivalents(kit)
    survivors, equivalent = [], []
    for key, m in spec.items():
        after = public[m.job_id][1]
        mutant = Mutant(m.job_id, m.file, m.line, m.operator, m.occurrence, m.before, after)
        if key in caught_publicly or hidden[hidden_ids[key]][0] != "survived":
            continue
        (equivalent if mutant.key in equivalents else survivors).append(mutant)
    name = hw if part is None else f"{hw}, part {part.name} ({', '.join(part.modules)})"
    return {"homework": name, "generated": len(every), "in_fences": len(in_fences), "run": len(chosen),
            "caught_publicly": len(caught_publicly), "equivalent": equivalent, "survivors": survivors,
            "equivalents": equivalents, "seconds": seconds, "sample": sample, "seed": seed,
            "part_tests": list(part.tests) if part else []}


def report(result: dict, command: str) -> str:
    judged = result["run"] - len(result["equivalent"])
    killed = judged - len(result["survivors"])
    lines = [f"# Mutation testing of {result['homework']}", "",
             f"Command: `{command}` ({result['seconds'] / 60:.0f} min on the 2-core machine, one mutant at a time).", "",
             "Cosmic Ray mutated a copy of the reference; only mutants inside the fenced regions (the code students",
             "write) were run, each against the public tests, then the survivors against the hidden tests.",
             *([f"Only the part's modules were mutated, and only its own tests ({', '.join(result['part_tests'])}) judged them."]
               if result.get("part_tests") else []), "",
             "| | mutants |", "| --- | ---: |",
             f"| generated in the graded files | {result['generated']} |",
             f"| inside the fences | {result['in_fences']} |",
             f"| run{' (a seeded sample)' if result['sample'] else ''} | {result['run']} |",
             f"| equivalent to the reference (listed below) | {len(result['equivalent'])} |",
             f"| lose points on the public tests | {result['caught_publicly']} "
             f"({100 * result['caught_publicly'] / max(judged, 1):.1f}% of the non-equivalent) |",
             f"| lose points overall | {killed} ({100 * killed / max(judged, 1):.1f}%) |",
             f"| survive | {len(result['survivors'])} |", ""]
    if result["survivors"]:
        lines += ["## Survivors", ""] + [f"- `{m.file}:{m.line}` ({m.operator}): `{m.before}` => `{m.after}`"
                                          for m in result["survivors"]] + [""]
    if result["equivalent"]:
        lines += ["## Equivalent mutants", ""] + [
            f"- `{m.file}:{m.line}`: `{m.before}` => `{m.after}`: {result['equivalents'][m.key]}" for m in result["equivalent"]] + [""]
    return "\n".join(lines)


def main(args) -> int:
    kit = Kit()
    status = 0
    homeworks = args.homeworks or kit.homeworks()
    if args.part and len(homeworks) != 1:
        raise SystemExit("--part names a part of one homework: give that homework, e.g. mutate hw3 --part abml")
    for hw in homeworks:
        kit.check_homework(hw)
        part = course_part(kit, hw, args.part) if args.part else None
        result = mutate(kit, hw, Path(args.workdir) / (hw if part is None else f"{hw}_{part.name}"), args.sample,
                        args.seed, part)
        command = " ".join(["python -m autograder mutate", hw] + ([f"--part {part.name}"] if part else [])
                           + ([f"--sample {args.sample} --seed {args.seed}"] if args.sample else []))
        text = report(result, command)
        print(text)
        if args.out:
            Path(args.out).mkdir(parents=True, exist_ok=True)
            (Path(args.out) / f"mutation_{hw}{'' if part is None else '_' + part.name}.md").write_text(text)
        status |= bool(result["survivors"])
    return status


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--run-tests", required=True, help="the mutated implementation's root")
    parser.add_argument("--kit-root", required=True, help="where pytest runs")
    parser.add_argument("pytest_args", nargs=argparse.REMAINDER)
    options = parser.parse_args()
    sys.exit(run_tests(Path(options.run_tests), Path(options.kit_root), [a for a in options.pytest_args if a != "--"]))
