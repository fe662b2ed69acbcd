"""``pynetes``: one command, a subcommand per component.

Components arrive issue by issue; each registers its subcommand here.
"""

from __future__ import annotations

import argparse
import logging
import sys

import pynetes
from pynetes.apiserver import command as apiserver_command
from pynetes.cluster import token as token_command
from pynetes.cluster import up as up_command
from pynetes.controllermanager import command as controller_manager_command
from pynetes.dns import command as dns_command
from pynetes.hollow import command as hollow_command
from pynetes.kubelet import command as kubelet_command
from pynetes.proxy import command as proxy_command
from pynetes.scheduler import command as scheduler_command


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="pynetes", description="Kubernetes, written in Python.")
    parser.add_argument(
        "-v", "--verbosity", type=int, default=0, help="log level: 0 info, 1+ debug"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("version", help="print the pynetes version")
    apiserver_command.add_arguments(commands.add_parser("apiserver", help="run kube-apiserver"))
    scheduler_command.add_arguments(commands.add_parser("scheduler", help="run kube-scheduler"))
    controller_manager_command.add_arguments(
        commands.add_parser("controller-manager", help="run kube-controller-manager")
    )
    dns_command.add_arguments(
        commands.add_parser("dns", help="run the cluster DNS server (as CoreDNS)")
    )
    kubelet_command.add_arguments(
        commands.add_parser("kubelet", help="run the kubelet: the node agent that runs pods")
    )
    proxy_command.add_arguments(
        commands.add_parser("proxy", help="run kube-proxy: Services made real on this node")
    )
    up_command.add_arguments(
        commands.add_parser("up", help="start a cluster on this machine and keep it running")
    )
    token_command.add_arguments(commands.add_parser("token", help="manage bootstrap tokens"))
    hollow_command.add_arguments(
        commands.add_parser("hollow-nodes", help="run fake nodes (hollow kubelets) until stopped")
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    arguments = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if arguments.verbosity else logging.INFO,
        format="%(asctime)s %(levelname).1s %(name)s: %(message)s",
    )
    if arguments.command == "version":
        print(f"pynetes {pynetes.__version__}")
        return 0
    if arguments.command == "apiserver":
        return apiserver_command.run(arguments)
    if arguments.command == "controller-manager":
        return controller_manager_command.run(arguments)
    if arguments.command == "dns":
        return dns_command.run(arguments)
    if arguments.command == "hollow-nodes":
        return hollow_command.run(arguments)
    if arguments.command == "kubelet":
        return kubelet_command.run(arguments)
    if arguments.command == "proxy":
        return proxy_command.run(arguments)
    if arguments.command == "token":
        return token_command.run(arguments)
    if arguments.command == "scheduler":
        return scheduler_command.run(arguments)
    return up_command.run(arguments)


if __name__ == "__main__":
    sys.exit(main())
