"""``pynetes token``: bootstrap tokens from the command line, as ``kubeadm token``.

``create [TOKEN]`` makes a token Secret (kubeadm's defaults: 24h, usages
signing and authentication, group ``system:bootstrappers:kubeadm:default-node-token``)
and prints the token, or with ``--print-join-command`` the whole
``pynetes join`` command; ``list`` shows the tokens; ``delete`` removes them
by id or token; ``generate`` prints a random token and touches nothing.
``--kubeconfig`` (default ``~/.pynetes/kubeconfig``, what ``pynetes up``
writes) names the cluster and an administrator's credentials.

The token is printed on stdout because that is what the command is for;
it is never logged, and errors never hold it.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

from pynetes.api.duration import DurationError, parse_duration
from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.config import ConfigError, load_kubeconfig
from pynetes.client.rest import ApiClient
from pynetes.cluster.bootstraptoken import (
    DEFAULT_GROUPS,
    DEFAULT_USAGES,
    DESCRIPTION_KEY,
    EXPIRATION_KEY,
    EXTRA_GROUPS_KEY,
    SECRET_NAMESPACE,
    TOKEN_SECRETS_FIELD_SELECTOR,
    USAGE_AUTHENTICATION,
    BootstrapToken,
    TokenFormatError,
    ca_cert_hash,
    describe_ttl,
    generate_token,
    is_token_id,
    parse_token,
    secret_name,
    secret_value,
    token_of,
    token_secret,
    usages_of,
)

Object = dict[str, Any]
SECRETS = built_in("", "v1", "secrets")
LIST_COLUMNS = ("TOKEN", "TTL", "EXPIRES", "USAGES", "DESCRIPTION", "EXTRA GROUPS")


class TokenCommandError(Exception):
    """A ``pynetes token`` failure, reported as ``error: <message>`` with exit code 1."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``pynetes token``'s subcommands; ``--kubeconfig`` goes before or after the subcommand."""
    default_kubeconfig = Path.home() / ".pynetes" / "kubeconfig"
    parser.add_argument("--kubeconfig", type=Path, default=default_kubeconfig)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--kubeconfig", type=Path, default=argparse.SUPPRESS)
    actions = parser.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    create = actions.add_parser("create", parents=[common], help="create a bootstrap token")
    create.add_argument("token", nargs="?", help="the token to create (default: a random one)")
    create.add_argument(
        "--ttl",
        default="24h",
        help="how long the token lives, a duration such as 1h30m (0: forever; default 24h)",
    )
    create.add_argument("--description", default="", help="what the token is for")
    create.add_argument(
        "--usages",
        action="append",
        help=f"comma-separated usages (default: {','.join(DEFAULT_USAGES)})",
    )
    create.add_argument(
        "--groups",
        action="append",
        help=f"comma-separated extra groups (default: {','.join(DEFAULT_GROUPS)}"
        " when the usages include authentication)",
    )
    create.add_argument(
        "--print-join-command",
        action="store_true",
        help="print the whole 'pynetes join' command, not only the token",
    )
    actions.add_parser("list", parents=[common], help="list the bootstrap tokens")
    delete = actions.add_parser("delete", parents=[common], help="delete bootstrap tokens")
    delete.add_argument("tokens", nargs="+", metavar="TOKEN_OR_ID")
    actions.add_parser("generate", parents=[common], help="print a random token, create nothing")


def run(arguments: argparse.Namespace) -> int:
    """Run the subcommand; 1 with ``error: ...`` on stderr when it fails."""
    try:
        if arguments.token_command == "generate":
            print(generate_token().value)
            return 0
        return asyncio.run(_run(arguments))
    except TokenCommandError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


async def _run(arguments: argparse.Namespace) -> int:
    try:
        config = load_kubeconfig(arguments.kubeconfig)
    except (ConfigError, OSError) as error:
        raise TokenCommandError(f"cannot load kubeconfig {arguments.kubeconfig}: {error}") from None
    async with ApiClient(config) as client:
        try:
            if arguments.token_command == "create":
                await create(client, arguments)
            elif arguments.token_command == "list":
                await list_tokens(client, sys.stdout)
            else:
                await delete(client, arguments.tokens)
        except (errors.ApiError, errors.TransportError) as error:
            raise TokenCommandError(str(error)) from None
    return 0


async def create(client: ApiClient, arguments: argparse.Namespace) -> None:
    """Create the token Secret and print the token (or the join command)."""
    usages = _list_flag(arguments.usages, DEFAULT_USAGES)
    # the default group only where it can apply: groups need the authentication usage
    default_groups = DEFAULT_GROUPS if USAGE_AUTHENTICATION in usages else ()
    try:
        token = parse_token(arguments.token) if arguments.token else generate_token()
        secret = token_secret(
            token,
            now=datetime.now(UTC),
            ttl=_ttl(arguments.ttl),
            description=arguments.description,
            usages=usages,
            groups=_list_flag(arguments.groups, default_groups),
        )
    except ValueError as error:
        raise TokenCommandError(str(error)) from None
    join = join_command(client, token) if arguments.print_join_command else None
    try:
        await client.create(SECRETS, secret, namespace=SECRET_NAMESPACE)
    except errors.AlreadyExists:
        raise TokenCommandError(f"a token with id {token.id!r} already exists") from None
    print(join if join is not None else token.value)


def join_command(client: ApiClient, token: BootstrapToken) -> str:
    """``pynetes join --server URL --token T --ca-cert-hash sha256:...`` for this cluster."""
    ca_pem = client.config.ca_pem
    if ca_pem is None:
        raise TokenCommandError(
            "the kubeconfig names no certificate authority: no --ca-cert-hash to print"
        )
    return (
        f"pynetes join --server {client.config.server} --token {token.value}"
        f" --ca-cert-hash {ca_cert_hash(ca_pem)}"
    )


async def list_tokens(client: ApiClient, out: TextIO) -> None:
    """``kubeadm token list``'s table of every well-formed token Secret."""
    listed = await client.list(
        SECRETS, namespace=SECRET_NAMESPACE, field_selector=TOKEN_SECRETS_FIELD_SELECTOR
    )
    now = datetime.now(UTC).timestamp()
    rows = [LIST_COLUMNS]
    for secret in listed.get("items") or ():
        token = token_of(secret)
        if token is None:
            name = secret["metadata"]["name"]
            print(f"warning: secret {SECRET_NAMESPACE}/{name} is no valid token", file=sys.stderr)
            continue
        rows.append(_row(secret, token, now))
    _print_table(rows, out)


def _row(secret: Object, token: BootstrapToken, now: float) -> tuple[str, ...]:
    return (
        token.value,
        describe_ttl(secret, now),
        secret_value(secret, EXPIRATION_KEY) or "<never>",
        ",".join(usages_of(secret)),
        secret_value(secret, DESCRIPTION_KEY) or "<none>",
        secret_value(secret, EXTRA_GROUPS_KEY) or "<none>",
    )


def _print_table(rows: Sequence[tuple[str, ...]], out: TextIO) -> None:
    """Columns padded to their widest cell plus three spaces, as kubeadm's tabwriter."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths, strict=False)]
        print("   ".join([*cells, row[-1]]), file=out)


async def delete(client: ApiClient, tokens: Sequence[str]) -> None:
    """Delete each token, given by id or as the whole token."""
    for text in tokens:
        token_id = text if is_token_id(text) else _id_of(text)
        try:
            await client.delete(SECRETS, secret_name(token_id), namespace=SECRET_NAMESPACE)
        except errors.NotFound:
            raise TokenCommandError(f"bootstrap token {token_id!r} not found") from None
        print(f'bootstrap token "{token_id}" deleted')


def _id_of(text: str) -> str:
    try:
        return parse_token(text).id
    except TokenFormatError:
        raise TokenCommandError(
            "given token or token id didn't match pattern [a-z0-9]{6} or [a-z0-9]{6}.[a-z0-9]{16}"
        ) from None


def _ttl(text: str) -> timedelta | None:
    try:
        seconds = parse_duration(text)
    except DurationError as error:
        raise ValueError(f"--ttl: {error}") from None
    return timedelta(seconds=seconds) if seconds > 0 else None


def _list_flag(values: list[str] | None, default: Sequence[str]) -> list[str]:
    """A repeatable comma-separated flag's items, or ``default`` when never given."""
    if values is None:
        return list(default)
    return [item for value in values for item in value.split(",") if item]
