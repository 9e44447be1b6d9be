"""Staff commands of the kit: release, grade, selftest, reference, coverage, mutate, check-isolation (see docs/staff-guide.md)."""
import argparse
import sys


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    release = commands.add_parser("release", help="regenerate the skeletons; build dist/student and the Gradescope zips")
    release.add_argument("homeworks", nargs="*", help="default: all")
    release.add_argument("--check", action="store_true", help="only check that the committed skeletons match the solutions")
    release.add_argument("--out", default="dist", help="output folder (default: dist)")

    grade = commands.add_parser("grade", help="grade a submission and write Gradescope's results.json")
    grade.add_argument("homework")
    grade.add_argument("--submission", required=True, help="folder with the student's files")
    grade.add_argument("--out", default=None, help="where to write results.json")
    grade.add_argument("--seed", type=int, default=None,
                       help="seed of the tasks that the grader samples (default: a secret random one)")
    grade.add_argument("--unsafe-no-isolation", action="store_true",
                       help="run the submission unconfined, as you (only for code you trust: never on Gradescope)")

    selftest = commands.add_parser("selftest", help="the reference must score full marks, the skeleton zero")
    selftest.add_argument("homeworks", nargs="*", help="default: all")
    selftest.add_argument("--seeds", type=int, default=1, help="grade the reference on this many grader seeds")

    mutate = commands.add_parser("mutate", help="mutation testing of the tests over the fenced code (needs cosmic-ray)")
    mutate.add_argument("homeworks", nargs="*", help="default: all")
    mutate.add_argument("--sample", type=int, default=None, help="run this many mutants drawn at random (default: all)")
    mutate.add_argument("--seed", type=int, default=0, help="seed of the sample")
    mutate.add_argument("--workdir", default="build/mutation", help="where the mutated copies and sessions go")
    mutate.add_argument("--out", default=None, help="write the report to OUT/mutation_<hw>.md")
    mutate.add_argument("--part", default=None,
                        help="only this graded part of course.toml (its modules, judged by its own tests)")

    coverage = commands.add_parser("coverage", help="which fenced lines and branches the tests run (needs coverage.py)")
    coverage.add_argument("homeworks", nargs="*", help="default: all")
    coverage.add_argument("--workdir", default="build/coverage", help="where coverage data goes")
    coverage.add_argument("--out", default=None, help="write the report to OUT/coverage.md")

    reference = commands.add_parser("reference", help="run a homework's command on the reference, e.g. hw1.main ARGS")
    reference.add_argument("module", help="a homework module run as a command: hw1.main, hw1.grid, hw2.main, hw3.main")
    reference.add_argument("arguments", nargs=argparse.REMAINDER, help="the command's own arguments")

    commands.add_parser("check-isolation", help="show which box submitted code would run in here; exit 1 if none holds")

    args = parser.parse_args(argv)
    if args.command == "release":
        from autograder.release import main as run
    elif args.command == "grade":
        from autograder.grading import grade_main as run
    elif args.command == "coverage":
        from autograder.coverage_report import main as run
    elif args.command == "mutate":
        from autograder.mutation import main as run
    elif args.command == "reference":
        from autograder.reference import run_main as run
    elif args.command == "check-isolation":
        from autograder.grading import check_isolation_main as run
    else:
        from autograder.grading import selftest_main as run
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
