"""Where the cluster is and who we are to it: kubeconfig files and in-cluster config.

Loading follows client-go's clientcmd:

* an explicit file must exist; otherwise the files listed in ``KUBECONFIG``
  (``os.pathsep``-separated, duplicates dropped, missing ones skipped) are
  merged, or ``~/.kube/config`` is read if ``KUBECONFIG`` is unset;
* merging: the first file to name a cluster, user or context wins that name
  whole (a later file's entry of the same name is ignored, not blended), and
  the first non-empty ``current-context`` wins;
* relative paths in an entry (``certificate-authority``,
  ``client-certificate``, ``client-key``, ``tokenFile``) are relative to the
  directory of the file that entry came from;
* ``*-data`` keys hold base64 PEM; naming both a ``*-data`` key and its file
  twin is an error, as upstream's validation makes it;
* credentials are used only over https, as client-go sends them only over TLS;
* with no kubeconfig at all, a pod's service account is used (in-cluster).

Errors are :class:`ConfigError` and name the file, entry and key at fault;
they never include a secret's value.
"""

from __future__ import annotations

import base64
import binascii
import os
import platform
import ssl
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

import pynetes
from pynetes.api.validation.syntax import is_dns1123_label

#: client-go's rest.DefaultQPS and rest.DefaultBurst.
DEFAULT_QPS = 5.0
DEFAULT_BURST = 10
SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")

Entry = dict[str, Any]

#: Keys of a user entry this client cannot honour: ignoring them would
#: authenticate as someone else (or as nobody) without saying so.
_UNSUPPORTED_USER_KEYS = {
    "exec": "exec credential plugins",
    "auth-provider": "auth-provider plugins",
    "username": "basic authentication",
    "password": "basic authentication",
    "as": "impersonation",
    "as-uid": "impersonation",
    "as-groups": "impersonation",
    "as-user-extra": "impersonation",
}
_GO_ARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}


class ConfigError(ValueError):
    """The client configuration cannot be loaded; the message says which entry is at fault."""


def default_user_agent(component: str | None = None) -> str:
    """``pynetes/<version> (<os>/<arch>) <component>``, as client-go's
    ``<command>/<version> (<os>/<arch>) kubernetes/<commit>``.

    ``component`` defaults to the program's name, as client-go's does.
    """
    name = component or os.path.basename(sys.argv[0] if sys.argv else "") or "unknown"
    machine = platform.machine().lower()
    system = platform.system().lower() or "unknown"
    return f"pynetes/{pynetes.__version__} ({system}/{_GO_ARCH.get(machine, machine)}) {name}"


@dataclass(frozen=True)
class ClientConfig:
    """Everything a client needs to reach one API server as one identity.

    Secrets (``token``, ``client_key_pem``) are left out of ``repr``.
    ``token_file``, when set, is the token's source: the REST client rereads
    it, because service account tokens are rotated on disk; ``token`` is
    what it held at load time. ``qps`` <= 0 turns client-side rate limiting
    off (client-go's QPS -1).
    """

    server: str
    ca_pem: bytes | None = field(default=None, repr=False)
    insecure_skip_tls_verify: bool = False
    tls_server_name: str | None = None
    client_cert_pem: bytes | None = field(default=None, repr=False)
    client_key_pem: bytes | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    token_file: Path | None = None
    namespace: str = "default"
    qps: float = DEFAULT_QPS
    burst: int = DEFAULT_BURST
    user_agent: str = field(default_factory=default_user_agent)

    def ssl_context(self) -> ssl.SSLContext | None:
        """A fresh TLS context for this server (None for plain http).

        It trusts ``ca_pem`` (or the system's CAs without one), or nothing
        is verified with ``insecure_skip_tls_verify``; it presents the client
        certificate if there is one.
        """
        if not self.server.startswith("https://"):
            return None
        if self.insecure_skip_tls_verify:
            context = ssl.create_default_context()
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        elif self.ca_pem is not None:
            context = ssl.create_default_context(cadata=self.ca_pem.decode("ascii", "replace"))
        else:
            context = ssl.create_default_context()
        if self.client_cert_pem is not None and self.client_key_pem is not None:
            _load_client_pair(context, self.client_cert_pem, self.client_key_pem)
        return context


def load_config(
    kubeconfig: Path | str | None = None,
    *,
    context: str | None = None,
    env: Mapping[str, str] | None = None,
    service_account_dir: Path = SERVICE_ACCOUNT_DIR,
) -> ClientConfig:
    """The configuration a component starts with, as client-go's deferred loading finds it.

    ``kubeconfig`` (an explicit file), else ``KUBECONFIG``, else
    ``~/.kube/config``; when none of them holds any entry and the process
    runs in a pod (see :func:`load_incluster_config`), the pod's service
    account. ``env`` defaults to ``os.environ``.
    """
    environ = os.environ if env is None else env
    files = _kubeconfig_files(kubeconfig, environ)
    merged = _merge([_read_kubeconfig(path) for path in files])
    if merged.empty and kubeconfig is None and _in_cluster_possible(environ, service_account_dir):
        return load_incluster_config(env=environ, directory=service_account_dir)
    return merged.client_config(context, files)


def load_kubeconfig(
    path: Path | str | None = None,
    *,
    context: str | None = None,
    env: Mapping[str, str] | None = None,
) -> ClientConfig:
    """The configuration of ``context`` (default: current-context) from kubeconfig files.

    ``path`` is an explicit file; without it, ``KUBECONFIG``'s files or
    ``~/.kube/config`` (``env`` defaults to ``os.environ``).
    """
    environ = os.environ if env is None else env
    files = _kubeconfig_files(path, environ)
    return _merge([_read_kubeconfig(file) for file in files]).client_config(context, files)


def load_incluster_config(
    *, env: Mapping[str, str] | None = None, directory: Path = SERVICE_ACCOUNT_DIR
) -> ClientConfig:
    """A pod's own configuration: its service account, talking to the ``kubernetes`` Service.

    The server is ``https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT``;
    the token (reread as it rotates), CA and namespace come from
    ``directory``. As client-go: an unreadable ``ca.crt`` leaves the system
    CAs in place rather than failing; the namespace is ``$POD_NAMESPACE``,
    else the ``namespace`` file, else ``default``.
    """
    environ = os.environ if env is None else env
    host = environ.get("KUBERNETES_SERVICE_HOST", "")
    port = environ.get("KUBERNETES_SERVICE_PORT", "")
    if not host or not port:
        raise ConfigError(
            "unable to load in-cluster configuration, KUBERNETES_SERVICE_HOST and"
            " KUBERNETES_SERVICE_PORT must be defined"
        )
    token_file = directory / "token"
    try:
        token = token_file.read_text().strip()
    except OSError as error:
        raise ConfigError(
            f"unable to read the service account token {token_file}: {error}"
        ) from None
    try:
        ca_pem: bytes | None = (directory / "ca.crt").read_bytes()
    except OSError:
        ca_pem = None
    host = f"[{host}]" if ":" in host else host
    return ClientConfig(
        server=f"https://{host}:{port}",
        ca_pem=ca_pem,
        token=token,
        token_file=token_file,
        namespace=_pod_namespace(environ, directory),
    )


def _pod_namespace(environ: Mapping[str, str], directory: Path) -> str:
    if environ.get("POD_NAMESPACE"):
        return environ["POD_NAMESPACE"]
    try:
        return (directory / "namespace").read_text().strip() or "default"
    except OSError:
        return "default"


def _in_cluster_possible(environ: Mapping[str, str], directory: Path) -> bool:
    return (
        bool(environ.get("KUBERNETES_SERVICE_HOST"))
        and bool(environ.get("KUBERNETES_SERVICE_PORT"))
        and (directory / "token").is_file()
    )


def _kubeconfig_files(explicit: Path | str | None, environ: Mapping[str, str]) -> list[Path]:
    """The files to merge, in precedence order; only an explicit one must exist."""
    if explicit is not None:
        path = Path(explicit)
        if not path.exists():
            raise ConfigError(f"kubeconfig {path} does not exist")
        return [path]
    listed = environ.get("KUBECONFIG", "")
    if listed:
        names = list(dict.fromkeys(name for name in listed.split(os.pathsep) if name))
        candidates = [Path(name) for name in names]
    else:
        home = environ.get("HOME") or str(Path.home())
        candidates = [Path(home) / ".kube" / "config"]
    return [path for path in candidates if path.exists()]


@dataclass
class _Kubeconfig:
    """Named entries (each the inner ``cluster``/``user``/``context`` mapping), current context."""

    clusters: dict[str, Entry] = field(default_factory=dict)
    users: dict[str, Entry] = field(default_factory=dict)
    contexts: dict[str, Entry] = field(default_factory=dict)
    current_context: str = ""

    @property
    def empty(self) -> bool:
        return not (self.clusters or self.users or self.contexts or self.current_context)

    def client_config(self, context: str | None, files: list[Path]) -> ClientConfig:
        """The configuration of ``context`` (default: the current one)."""
        if self.empty:
            where = ", ".join(str(path) for path in files) or "no kubeconfig file was found"
            raise ConfigError(
                f"invalid configuration: no configuration has been provided ({where})"
            )
        name = context or self.current_context
        if not name:
            raise ConfigError("no context chosen: the kubeconfig has no current-context")
        chosen = self.contexts.get(name)
        if chosen is None:
            raise ConfigError(f"context was not found for specified context: {name}")
        cluster_name = self._reference(chosen, name, "cluster", self.clusters)
        user_name = self._reference(chosen, name, "user", self.users)
        return _build(
            cluster_name,
            self.clusters[cluster_name],
            user_name,
            self.users[user_name],
            _namespace(chosen, name),
        )

    @staticmethod
    def _reference(context: Entry, name: str, key: str, entries: dict[str, Entry]) -> str:
        """The cluster or user ``context`` names, which must exist."""
        target = _string(context, key, f"context {name!r}")
        if not target:
            raise ConfigError(f"{key} was not specified for context {name!r}")
        if target not in entries:
            raise ConfigError(f"{key} {target!r} was not found for context {name!r}")
        return target


def _namespace(context: Entry, name: str) -> str:
    namespace = _string(context, "namespace", f"context {name!r}")
    if namespace and is_dns1123_label(namespace):
        raise ConfigError(
            f"namespace {namespace!r} for context {name!r} does not conform to the kubernetes"
            " DNS_LABEL rules"
        )
    return namespace or "default"


def _build(
    cluster_name: str, cluster: Entry, user_name: str, user: Entry, namespace: str
) -> ClientConfig:
    """A cluster and a user, resolved; credentials only if the server is https."""
    where = f"cluster {cluster_name!r}"
    server = _string(cluster, "server", where)
    if not server:
        raise ConfigError(f"no server found for {where}")
    if "proxy-url" in cluster:
        raise ConfigError(f"{where}: proxy-url is not supported by pynetes.client")
    ca_pem = _data_or_file(cluster, "certificate-authority", where)
    insecure = _boolean(cluster, "insecure-skip-tls-verify", where)
    if insecure and ca_pem is not None:
        raise ConfigError(
            f"{where}: specifying a root certificates file with the insecure flag is not allowed"
        )
    has_cert = bool(user.get("client-certificate") or user.get("client-certificate-data"))
    if "://" not in server:  # client-go's default scheme: https only if TLS is configured
        server = ("https://" if ca_pem or has_cert or insecure else "http://") + server
    secure = server.startswith("https://")
    return ClientConfig(
        server=server.rstrip("/"),
        ca_pem=ca_pem,
        insecure_skip_tls_verify=insecure,
        tls_server_name=_string(cluster, "tls-server-name", where) or None,
        namespace=namespace,
        **(_credentials(user_name, user) if secure else {}),
    )


def _credentials(name: str, user: Entry) -> dict[str, Any]:
    """ClientConfig's certificate and token fields from a user entry."""
    where = f"user {name!r}"
    for key, feature in _UNSUPPORTED_USER_KEYS.items():
        if user.get(key):
            raise ConfigError(f"{where} uses {feature} ({key}), not supported by pynetes.client")
    cert = _data_or_file(user, "client-certificate", where)
    key = _data_or_file(user, "client-key", where)
    if cert is not None and key is None:
        raise ConfigError(
            f"client-key-data or client-key must be specified for {where} to use the"
            " clientCert authentication method"
        )
    token = _string(user, "token", where) or None
    token_path = _string(user, "tokenFile", where)
    token_file = Path(token_path) if token_path else None
    if token is None and token_file is not None:
        try:
            token = token_file.read_text().strip()
        except OSError as error:
            raise ConfigError(
                f"unable to read tokenFile {token_file} for {where}: {error}"
            ) from None
    return {
        "client_cert_pem": cert,
        "client_key_pem": key if cert is not None else None,
        "token": token,
        "token_file": token_file,
    }


def _data_or_file(entry: Entry, key: str, where: str) -> bytes | None:
    """``<key>-data`` (base64) or the file ``<key>`` names; both at once is an error."""
    data, path = _string(entry, f"{key}-data", where), _string(entry, key, where)
    if data and path:
        raise ConfigError(f"{key}-data and {key} are both specified for {where}")
    if data:
        try:
            return base64.b64decode("".join(data.split()), validate=True)
        except binascii.Error:
            raise ConfigError(f"{key}-data of {where} is not valid base64") from None
    if path:
        try:
            return Path(path).read_bytes()
        except OSError as error:
            raise ConfigError(f"unable to read {key} {path} for {where}: {error}") from None
    return None


def _string(entry: Entry, key: str, where: str) -> str:
    value = entry.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ConfigError(f"{key} of {where} must be a string")
    return value


def _boolean(entry: Entry, key: str, where: str) -> bool:
    value = entry.get(key, False)
    if not isinstance(value, bool):
        raise ConfigError(f"{key} of {where} must be true or false")
    return value


def _merge(configs: list[_Kubeconfig]) -> _Kubeconfig:
    """clientcmd's merge: the first file to name an entry wins it whole."""
    merged = _Kubeconfig()
    for config in configs:
        for name, entry in config.clusters.items():
            merged.clusters.setdefault(name, entry)
        for name, entry in config.users.items():
            merged.users.setdefault(name, entry)
        for name, entry in config.contexts.items():
            merged.contexts.setdefault(name, entry)
        merged.current_context = merged.current_context or config.current_context
    return merged


#: (list key, inner key, path keys relative to the file's directory)
_SECTIONS = (
    ("clusters", "cluster", ("certificate-authority",)),
    ("users", "user", ("client-certificate", "client-key", "tokenFile")),
    ("contexts", "context", ()),
)


def _read_kubeconfig(path: Path) -> _Kubeconfig:
    try:
        document = yaml.safe_load(path.read_bytes())
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f'error loading config file "{path}": {error}') from None
    if document is None:
        return _Kubeconfig()
    if not isinstance(document, dict):
        raise ConfigError(f'error loading config file "{path}": not a YAML mapping')
    base = path.resolve().parent
    sections = [_entries(path, document, *section, base) for section in _SECTIONS]
    current = document.get("current-context") or ""
    if not isinstance(current, str):
        raise ConfigError(f'error loading config file "{path}": current-context is not a string')
    return _Kubeconfig(*sections, current_context=current)


def _entries(
    path: Path, document: Entry, list_key: str, inner: str, path_keys: tuple[str, ...], base: Path
) -> dict[str, Entry]:
    """``name -> inner mapping`` of one list; the first of a repeated name wins."""
    found: dict[str, Entry] = {}
    for item in document.get(list_key) or []:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise ConfigError(f'error loading config file "{path}": a {inner} entry has no name')
        entry = item.get(inner) or {}
        if not isinstance(entry, dict):
            raise ConfigError(
                f'error loading config file "{path}": {inner} {item["name"]!r} is not a mapping'
            )
        found.setdefault(item["name"], _resolved(entry, path_keys, base))
    return found


def _resolved(entry: Entry, path_keys: tuple[str, ...], base: Path) -> Entry:
    """``entry`` with its relative file paths made absolute against ``base``."""
    resolved = dict(entry)
    for key in path_keys:
        value = resolved.get(key)
        if isinstance(value, str) and value and not os.path.isabs(value):
            resolved[key] = str(base / value)
    return resolved


def _load_client_pair(context: ssl.SSLContext, cert_pem: bytes, key_pem: bytes) -> None:
    """The ssl module loads a certificate chain only from files: write both to a
    private temporary directory (mode 0700) for the moment it reads them."""
    with tempfile.TemporaryDirectory(prefix="pynetes-client-") as directory:
        cert, key = Path(directory) / "client.crt", Path(directory) / "client.key"
        cert.write_bytes(cert_pem)
        key.touch(mode=0o600)
        key.write_bytes(key_pem)
        try:
            context.load_cert_chain(cert, key)
        except ssl.SSLError as error:
            raise ConfigError(f"the client certificate and key do not load: {error}") from None
