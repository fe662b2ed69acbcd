"""The controller manager's flags, with upstream's names and defaults."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from pynetes.api.duration import DurationError, parse_duration
from pynetes.cli.flags import add_bool_flag
from pynetes.controllermanager import registry


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Every flag: the program's, and each known controller's."""
    parser.add_argument("--kubeconfig", type=Path, default=None)
    parser.add_argument(
        "--controllers",
        default="*",
        help="controllers to run: '*' for all enabled by default, 'name' to add one, "
        "'-name' to leave one out (comma-separated)",
    )
    parser.add_argument("--kube-api-qps", type=float, default=20.0)
    parser.add_argument("--kube-api-burst", type=int, default=30)
    parser.add_argument("--bind-address", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=10252, help="HTTP /healthz and /metrics")
    add_leader_election_arguments(parser, "kube-controller-manager")
    for descriptor in registry.known().values():
        if descriptor.concurrency_flag is not None:
            parser.add_argument(
                descriptor.concurrency_flag,
                type=int,
                default=descriptor.default_workers,
                help=f"how many {descriptor.name} objects may be synced at once",
            )
        if descriptor.add_arguments is not None:
            descriptor.add_arguments(parser)


def add_leader_election_arguments(parser: argparse.ArgumentParser, resource_name: str) -> None:
    """Upstream's ``--leader-elect*`` flags (component-base's defaults)."""
    add_bool_flag(parser, "--leader-elect", True, "take part in leader election")
    parser.add_argument("--leader-elect-lease-duration", type=duration, default=15.0)
    parser.add_argument("--leader-elect-renew-deadline", type=duration, default=10.0)
    parser.add_argument("--leader-elect-retry-period", type=duration, default=2.0)
    parser.add_argument("--leader-elect-resource-name", default=resource_name)
    parser.add_argument("--leader-elect-resource-namespace", default="kube-system")


def duration(text: str) -> float:
    """Seconds in a Go duration flag value (``40s``, ``5m``, ``1h30m``)."""
    try:
        return parse_duration(text)
    except DurationError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def defaults(**overrides: Any) -> argparse.Namespace:
    """The options of a controller manager started with no flags, then ``overrides``.

    For running controllers in-process (tests, benchmarks).
    """
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    options = parser.parse_args([])
    for name, value in overrides.items():
        if not hasattr(options, name):
            raise AttributeError(f"the controller manager has no option {name!r}")
        setattr(options, name, value)
    return options
