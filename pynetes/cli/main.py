"""``pynetes``: one command, a subcommand per component.

Components arrive issue by issue; each registers its subcommand here.
"""

from __future__ import annotations

import argparse
import sys

import pynetes


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pynetes", description="Kubernetes, written in Python.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("version", help="print the pynetes version")
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    if arguments.command == "version":
        print(f"pynetes {pynetes.__version__}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
