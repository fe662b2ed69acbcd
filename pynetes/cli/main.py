"""``pynetes``: one command, a subcommand per component.

Each subcommand is a module with ``add_arguments(parser)`` and a runner taking the
parsed arguments. Only the module of the command being run is imported: every
component is a process of its own, and importing all the others would cost each
process their memory (tens of MB apiece) for nothing.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import pynetes
from pynetes.cli.tlsbuffers import limit_tls_read_buffers


@dataclass(frozen=True)
class Command:
    module: str
    help: str
    runner: str = "run"


COMMANDS: dict[str, Command] = {
    "apiserver": Command("pynetes.apiserver.command", "run kube-apiserver"),
    "scheduler": Command("pynetes.scheduler.command", "run kube-scheduler"),
    "controller-manager": Command(
        "pynetes.controllermanager.command", "run kube-controller-manager"
    ),
    "kubelet": Command("pynetes.kubelet.command", "run the kubelet: the node agent that runs pods"),
    "proxy": Command("pynetes.proxy.command", "run kube-proxy: Services made real on this node"),
    "dns": Command("pynetes.dns.command", "run the cluster DNS server (as CoreDNS)"),
    "up": Command(
        "pynetes.cluster.up", "start a single-node cluster on this machine and keep it running"
    ),
    "init": Command(
        "pynetes.cluster.up",
        "start a control-plane node that other nodes join, and keep it running",
        runner="run_init",
    ),
    "systemd-units": Command(
        "pynetes.cluster.systemd", "write a systemd unit per component (the other way to run)"
    ),
    "join": Command("pynetes.cluster.join", "join this machine to a cluster as a node"),
    "token": Command("pynetes.cluster.token", "manage bootstrap tokens (as kubeadm token)"),
    "hollow-nodes": Command(
        "pynetes.hollow.command", "run fake nodes (hollow kubelets) until stopped"
    ),
}


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; the flags of a command are added only when ``argv`` names it (or
    when ``argv`` is None, for every command)."""
    parser = argparse.ArgumentParser(prog="pynetes", description="Kubernetes, written in Python.")
    parser.add_argument(
        "-v", "--verbosity", type=int, default=0, help="log level: 0 info, 1+ debug"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("version", help="print the pynetes version")
    chosen = None if argv is None else next((a for a in argv if a in COMMANDS), "")
    for name, command in COMMANDS.items():
        subparser = commands.add_parser(name, help=command.help)
        if chosen is None or chosen == name:
            importlib.import_module(command.module).add_arguments(subparser)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    arguments = build_parser(argv).parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if arguments.verbosity else logging.INFO,
        format="%(asctime)s %(levelname).1s %(name)s: %(message)s",
    )
    if arguments.command == "version":
        print(f"pynetes {pynetes.__version__}")
        return 0
    command = COMMANDS[arguments.command]
    limit_tls_read_buffers()
    result: int = getattr(importlib.import_module(command.module), command.runner)(arguments)
    return result


if __name__ == "__main__":
    sys.exit(main())
