"""Command-line flags with Go's semantics, as upstream's components parse them.

Upstream's boolean flags take ``--flag``, ``--flag=true`` and ``--flag=false``;
argparse's ``store_true`` takes only the first, so a manifest or unit file written
for upstream would fail here.
"""

from __future__ import annotations

import argparse


def add_bool_flag(
    parser: argparse.ArgumentParser, flag: str, default: bool | None, help_text: str
) -> None:
    """A Go boolean flag: ``--flag`` (true), ``--flag=true`` or ``--flag=false``."""
    parser.add_argument(
        flag, nargs="?", const=True, default=default, type=boolean, metavar="BOOL", help=help_text
    )


def boolean(text: str) -> bool:
    """A Go flag's boolean (strconv.ParseBool): 1, t, true, 0, f, false in any case."""
    lowered = text.strip().lower()
    if lowered in ("1", "t", "true"):
        return True
    if lowered in ("0", "f", "false"):
        return False
    raise argparse.ArgumentTypeError(f'strconv.ParseBool: parsing "{text}": invalid syntax')
