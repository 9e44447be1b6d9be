"""Students' commands of the harness.

    python -m harness submit hw1     run the public tests, check the files and checkpoints, write hw1_submission.zip
"""
import sys

from harness.submit import main as submit


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] != "submit":
        print("usage: python -m harness submit hwN [--skip-tests]", file=sys.stderr)
        return 2
    return submit(argv[1:])


if __name__ == "__main__":
    sys.exit(main())
