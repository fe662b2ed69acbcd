"""kubeconfig files, as kubectl and kubeadm write them.

A kubeconfig names a cluster (server URL and the CA to trust), a user (a
client certificate and key, or a bearer token) and a context binding the
two. Credentials are embedded (``*-data`` keys, base64 of the PEM) so the
file stands alone; files are written atomically with mode 0600, because they
hold secrets.
"""

from __future__ import annotations

import base64
import copy
from pathlib import Path
from typing import Any

import yaml

from pynetes.pki.certificates import KeyPair, write_atomically

#: kubeadm names its cluster ``kubernetes`` and the context ``<user>@<cluster>``.
DEFAULT_CLUSTER = "kubernetes"

#: The lists a kubeconfig keeps, each of ``{"name": ..., <kind>: {...}}`` entries.
_NAMED_LISTS = ("clusters", "users", "contexts")


def kubeconfig(
    *,
    server: str,
    ca_pem: bytes,
    user: str,
    client: KeyPair | None = None,
    token: str | None = None,
    cluster: str = DEFAULT_CLUSTER,
    context: str | None = None,
    namespace: str | None = None,
) -> dict[str, Any]:
    """A kubeconfig with one cluster, one user and one context, which is current.

    The user authenticates with exactly one of ``client`` (a client
    certificate and its key) or ``token`` (a bearer token). ``context``
    defaults to ``<user>@<cluster>`` as kubeadm names it
    (``kubernetes-admin@kubernetes``).
    """
    context_name = context if context is not None else f"{user}@{cluster}"
    context_entry = {"cluster": cluster, "user": user}
    if namespace is not None:
        context_entry["namespace"] = namespace
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": cluster,
                "cluster": {"certificate-authority-data": _b64(ca_pem), "server": server},
            }
        ],
        "users": [{"name": user, "user": _user_entry(client, token)}],
        "contexts": [{"name": context_name, "context": context_entry}],
        "current-context": context_name,
        "preferences": {},
    }


def write_kubeconfig(path: Path | str, config: dict[str, Any]) -> None:
    """Write ``config`` to ``path`` (mode 0600), replacing the file if it exists."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(target, _dump(config), mode=0o600)


def merge_kubeconfig(
    path: Path | str, config: dict[str, Any], *, set_current_context: bool = False
) -> None:
    """Add the clusters, users and contexts of ``config`` to the kubeconfig at ``path``.

    Entries of the same name are replaced; every other entry and key of the
    existing file (other clusters, preferences, extensions) is kept. The
    current context changes only when ``set_current_context`` is true, so
    adding a cluster never silently retargets the user's next ``kubectl``
    command. A missing or empty file is created. ``config`` is not modified.
    """
    target = Path(path)
    existing = (yaml.safe_load(target.read_text()) if target.exists() else None) or {}
    if not isinstance(existing, dict):
        raise ValueError(f"{target} is not a kubeconfig: its YAML is not a mapping")
    merged = copy.deepcopy(existing)
    merged.setdefault("apiVersion", "v1")
    merged.setdefault("kind", "Config")
    for key in _NAMED_LISTS:
        merged[key] = _merge_named(merged.get(key) or [], config.get(key) or [])
    if set_current_context:
        merged["current-context"] = config["current-context"]
    write_kubeconfig(target, merged)


def _merge_named(
    entries: list[dict[str, Any]], updates: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Entries keep their order; an update replaces its namesake or is appended."""
    by_name = {entry.get("name"): entry for entry in entries}
    for update in updates:
        by_name[update["name"]] = copy.deepcopy(update)
    return list(by_name.values())


def _user_entry(client: KeyPair | None, token: str | None) -> dict[str, str]:
    if client is not None and token is None:
        return {
            "client-certificate-data": _b64(client.certificate_pem()),
            "client-key-data": _b64(client.key_pem()),
        }
    if token is not None and client is None:
        return {"token": token}
    raise ValueError("a kubeconfig user needs exactly one of a client certificate or a token")


def _dump(config: dict[str, Any]) -> bytes:
    return yaml.safe_dump(config, default_flow_style=False, sort_keys=False).encode()


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
