"""Bootstrap tokens: how a new node proves it may join, and how it learns to trust the cluster.

A bootstrap token is ``<id>.<secret>`` (``[a-z0-9]{6}\\.[a-z0-9]{16}``). It lives
in the Secret ``kube-system/bootstrap-token-<id>`` of type
``bootstrap.kubernetes.io/token``, with upstream's keys (k8s.io/cluster-bootstrap):
``token-id``, ``token-secret``, ``expiration`` (RFC 3339), ``description``,
``usage-bootstrap-<usage>: "true"`` per usage and ``auth-extra-groups``.

Two usages, as upstream:

* ``authentication``: the API server accepts the token as a bearer token for
  the user ``system:bootstrap:<id>`` in ``system:bootstrappers`` plus the
  extra groups (:mod:`pynetes.apiserver.auth.bootstraptoken`);
* ``signing``: the bootstrapsigner controller signs the ``kubeconfig`` of the
  ConfigMap ``kube-public/cluster-info`` with it, so a joining node holding
  the token can tell that ConfigMap came from the cluster
  (:mod:`pynetes.cluster.discovery`).

This module is the shared, pure part (no I/O): generating and parsing
tokens, the Secret kubeadm creates for one, reading such a Secret back, the
detached JWS signature, the CA public-key hash and the cluster-info
ConfigMap. Tokens' secrets never appear in a ``repr`` or an error message.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import serialization

Object = dict[str, Any]

SECRET_TYPE = "bootstrap.kubernetes.io/token"
SECRET_NAMESPACE = "kube-system"
SECRET_NAME_PREFIX = "bootstrap-token-"
ID_KEY = "token-id"
SECRET_KEY = "token-secret"
DESCRIPTION_KEY = "description"
EXPIRATION_KEY = "expiration"
EXTRA_GROUPS_KEY = "auth-extra-groups"
USAGE_KEY_PREFIX = "usage-bootstrap-"
USAGE_SIGNING = "signing"
USAGE_AUTHENTICATION = "authentication"
#: Upstream's KnownTokenUsages, in its order.
KNOWN_USAGES = (USAGE_SIGNING, USAGE_AUTHENTICATION)

#: Every bootstrap token user is in this group; extra groups must start with it and ":".
DEFAULT_GROUP = "system:bootstrappers"
USER_PREFIX = "system:bootstrap:"

#: ``kubeadm token create``'s defaults.
DEFAULT_TTL = timedelta(hours=24)
DEFAULT_USAGES = (USAGE_SIGNING, USAGE_AUTHENTICATION)
KUBEADM_NODE_GROUP = "system:bootstrappers:kubeadm:default-node-token"
DEFAULT_GROUPS = (KUBEADM_NODE_GROUP,)

#: The field selector that lists exactly the token Secrets (controllers' informers).
TOKEN_SECRETS_FIELD_SELECTOR = f"metadata.namespace={SECRET_NAMESPACE},type={SECRET_TYPE}"

CLUSTER_INFO_NAMESPACE = "kube-public"
CLUSTER_INFO_NAME = "cluster-info"
KUBECONFIG_KEY = "kubeconfig"
JWS_KEY_PREFIX = "jws-kubeconfig-"

_TOKEN = re.compile(r"([a-z0-9]{6})\.([a-z0-9]{16})")
_TOKEN_ID = re.compile(r"[a-z0-9]{6}")
_TOKEN_SECRET = re.compile(r"[a-z0-9]{16}")
_GROUP = re.compile(r"system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]")
_SECRET_NAME = re.compile(re.escape(SECRET_NAME_PREFIX) + r"([a-z0-9]{6})")
#: Go's time.RFC3339 layout (fractional seconds accepted, as Go's parser does).
_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")
_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
_HASH_PREFIX = "sha256:"


class TokenFormatError(ValueError):
    """Text that is not a bootstrap token (the message never holds the text)."""


@dataclass(frozen=True)
class BootstrapToken:
    """A token's public ``id`` and its ``secret`` (left out of ``repr``)."""

    id: str
    secret: str = field(repr=False)

    @property
    def value(self) -> str:
        """The bearer token ``<id>.<secret>``: handle as a secret."""
        return f"{self.id}.{self.secret}"

    @property
    def secret_name(self) -> str:
        return secret_name(self.id)


def generate_token() -> BootstrapToken:
    """A fresh random token, each character uniform over ``[a-z0-9]`` (as upstream)."""
    return BootstrapToken(_random_text(6), _random_text(16))


def _random_text(length: int) -> str:
    return "".join(secrets.choice(_ALPHABET) for _ in range(length))


def parse_token(text: str) -> BootstrapToken:
    """The token ``text`` holds; :class:`TokenFormatError` if it has not the form."""
    match = _TOKEN.fullmatch(text.strip())
    if match is None:
        raise TokenFormatError(
            f"the bootstrap token is not of the form {_TOKEN.pattern!r}"
            " (6 then 16 characters of [a-z0-9], joined by a dot)"
        )
    return BootstrapToken(match.group(1), match.group(2))


def is_token_id(text: str) -> bool:
    return _TOKEN_ID.fullmatch(text) is not None


def secret_name(token_id: str) -> str:
    """The name of the Secret that holds token ``token_id``."""
    return SECRET_NAME_PREFIX + token_id


def validate_group(group: str) -> None:
    """ValueError unless ``group`` may be an extra group (upstream's ValidateBootstrapGroupName)."""
    if _GROUP.fullmatch(group) is None:
        raise ValueError(f'bootstrap group "{group}" is invalid (must match {_GROUP.pattern})')


def validate_usages(usages: Sequence[str]) -> None:
    """ValueError naming the usages that are not known (upstream's ValidateUsages)."""
    unknown = sorted(set(usages) - set(KNOWN_USAGES))
    if unknown:
        raise ValueError(
            f"invalid bootstrap token usage string: {','.join(unknown)},"
            f" valid usage options: {','.join(KNOWN_USAGES)}"
        )


def token_secret(
    token: BootstrapToken,
    *,
    now: datetime,
    ttl: timedelta | None = DEFAULT_TTL,
    description: str = "",
    usages: Sequence[str] = DEFAULT_USAGES,
    groups: Sequence[str] = DEFAULT_GROUPS,
) -> Object:
    """The Secret kubeadm creates for ``token`` (kubeadm's BootstrapTokenToSecret).

    ``ttl`` None or zero means the token never expires; otherwise it expires
    ``ttl`` after ``now``. Groups need the ``authentication`` usage, as
    ``kubeadm token create`` requires. ValueError for bad usages or groups.
    """
    validate_usages(usages)
    for group in groups:
        validate_group(group)
    if groups and USAGE_AUTHENTICATION not in usages:
        raise ValueError(
            f"--groups cannot be specified unless --usages includes {USAGE_AUTHENTICATION!r}"
        )
    data = {ID_KEY: token.id, SECRET_KEY: token.secret}
    if description:
        data[DESCRIPTION_KEY] = description
    if ttl:
        data[EXPIRATION_KEY] = rfc3339(now + ttl)
    for usage in usages:
        data[USAGE_KEY_PREFIX + usage] = "true"
    if groups:
        data[EXTRA_GROUPS_KEY] = ",".join(groups)
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": token.secret_name, "namespace": SECRET_NAMESPACE},
        "type": SECRET_TYPE,
        "data": {key: base64.b64encode(value.encode()).decode() for key, value in data.items()},
    }


def rfc3339(moment: datetime) -> str:
    """``moment`` in UTC, to the second, as Go's time.RFC3339 formats it."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- reading a token Secret --------------------------------------------------------


def secret_value(secret: Object, key: str) -> str:
    """The decoded value of ``key`` in the Secret's data; "" if absent or not base64 text."""
    encoded = (secret.get("data") or {}).get(key)
    if not isinstance(encoded, str):
        return ""
    try:
        return base64.b64decode(encoded, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return ""


def expires_in(secret: Object, now: float) -> float | None:
    """Seconds until the token expires: None if it never does, 0 if it has.

    An ``expiration`` that is not RFC 3339 counts as expired (upstream's
    GetExpiration), so a typo never makes a token live forever.
    """
    text = secret_value(secret, EXPIRATION_KEY)
    if not text:
        return None
    if _RFC3339.fullmatch(text) is None:
        return 0.0
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return 0.0
    return max(moment.timestamp() - now, 0.0)


def is_expired(secret: Object, now: float) -> bool:
    return expires_in(secret, now) == 0.0


def extra_groups(secret: Object) -> tuple[str, ...]:
    """The user's groups: ``system:bootstrappers`` and the extra ones, sorted and unique.

    ValueError if an extra group is invalid (upstream's GetGroups): the
    token then authenticates nobody.
    """
    groups = {DEFAULT_GROUP}
    text = secret_value(secret, EXTRA_GROUPS_KEY)
    if text:
        for group in text.split(","):
            validate_group(group)
            groups.add(group)
    return tuple(sorted(groups))


def has_usage(secret: Object, usage: str) -> bool:
    return secret_value(secret, USAGE_KEY_PREFIX + usage) == "true"


def token_of(secret: Object) -> BootstrapToken | None:
    """The token a Secret holds if it is a well-formed bootstrap token Secret, else None.

    Well-formed: the type, a name ``bootstrap-token-<id>`` whose id equals
    ``token-id``, and a ``token-secret`` of the right form. Expiry and
    usages are the caller's to check.
    """
    if secret.get("type") != SECRET_TYPE:
        return None
    name = _SECRET_NAME.fullmatch(secret.get("metadata", {}).get("name", ""))
    token_id = secret_value(secret, ID_KEY)
    token_secret_text = secret_value(secret, SECRET_KEY)
    if name is None or name.group(1) != token_id:
        return None
    if _TOKEN_SECRET.fullmatch(token_secret_text) is None:
        return None
    return BootstrapToken(token_id, token_secret_text)


def signing_token(secret: Object, now: float) -> BootstrapToken | None:
    """The token to sign cluster-info with: well-formed, not expired, usage ``signing``."""
    token = token_of(secret)
    if token is None or is_expired(secret, now) or not has_usage(secret, USAGE_SIGNING):
        return None
    return token


# -- signatures, hashes, cluster-info ------------------------------------------------


def detached_signature(content: str, token: BootstrapToken) -> str:
    """The detached JWS of ``content`` for ``token``, as upstream's ComputeDetachedSignature.

    Compact serialization with the payload left out (``header..signature``);
    header ``{"alg":"HS256","kid":"<id>"}``; HMAC-SHA256 keyed by the token
    secret over ``header.base64url(content)``. Built by hand: PyJWT's
    detached mode is RFC 7797's (a ``b64: false`` header), which upstream's
    verifier would not reproduce.
    """
    header = _b64url(json.dumps({"alg": "HS256", "kid": token.id}, separators=(",", ":")).encode())
    signing_input = f"{header}.{_b64url(content.encode())}".encode()
    signature = hmac.new(token.secret.encode(), signing_input, hashlib.sha256).digest()
    return f"{header}..{_b64url(signature)}"


def signature_is_valid(signature: str, content: str, token: BootstrapToken) -> bool:
    """Whether ``signature`` is ``token``'s over ``content`` (compared in constant time)."""
    expected = detached_signature(content, token)
    return hmac.compare_digest(expected.encode(), signature.encode())


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def ca_cert_hash(ca_pem: bytes) -> str:
    """``sha256:<hex>`` of the CA certificate's DER SubjectPublicKeyInfo (kubeadm's pin).

    For a bundle, the first certificate's (kubeadm prints the cluster CA's).
    """
    return public_key_hashes(ca_pem)[0]


def public_key_hashes(ca_pem: bytes) -> list[str]:
    """The pin of every certificate in a PEM bundle; ValueError if it holds none."""
    try:
        certificates = x509.load_pem_x509_certificates(ca_pem)
    except ValueError:
        raise ValueError("the CA data holds no PEM certificate") from None
    return [_pin(certificate) for certificate in certificates]


def _pin(certificate: x509.Certificate) -> str:
    der = certificate.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return _HASH_PREFIX + hashlib.sha256(der).hexdigest()


def normalize_hash(text: str) -> str:
    """A pin as ``sha256:<lowercase hex>``; ValueError for another format (as kubeadm)."""
    kind, separator, value = text.strip().partition(":")
    if not separator:
        raise ValueError(f'invalid hash {text!r}, expected "format:hex-value"')
    if kind.lower() != "sha256":
        raise ValueError(f'unknown hash format {kind!r} in {text!r}, expected "sha256"')
    if re.fullmatch(r"[0-9a-fA-F]{64}", value) is None:
        raise ValueError(f"invalid hash {text!r}: expected 64 hexadecimal digits after sha256:")
    return _HASH_PREFIX + value.lower()


def cluster_info_kubeconfig(server: str, ca_pem: bytes) -> str:
    """The kubeconfig kubeadm publishes: one unnamed cluster, the server and its CA."""
    config = {
        "apiVersion": "v1",
        "clusters": [
            {
                "cluster": {
                    "certificate-authority-data": base64.b64encode(ca_pem).decode(),
                    "server": server,
                },
                "name": "",
            }
        ],
        "contexts": None,
        "current-context": "",
        "kind": "Config",
        "preferences": {},
        "users": None,
    }
    return yaml.safe_dump(config, default_flow_style=False, sort_keys=False)


def cluster_info_configmap(server: str, ca_pem: bytes) -> Object:
    """The ConfigMap ``kube-public/cluster-info`` (kubeadm's ``bootstrap-token`` phase)."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": CLUSTER_INFO_NAME, "namespace": CLUSTER_INFO_NAMESPACE},
        "data": {KUBECONFIG_KEY: cluster_info_kubeconfig(server, ca_pem)},
    }


def parse_cluster_info(kubeconfig_text: str) -> tuple[str, bytes]:
    """The server and CA PEM of cluster-info's kubeconfig (its first cluster).

    ValueError saying what is wrong for a kubeconfig without them.
    """
    try:
        config = yaml.safe_load(kubeconfig_text)
    except yaml.YAMLError:
        raise ValueError("the cluster-info kubeconfig is not YAML") from None
    clusters = config.get("clusters") if isinstance(config, dict) else None
    if not isinstance(clusters, list) or not clusters or not isinstance(clusters[0], dict):
        raise ValueError("the cluster-info kubeconfig holds no cluster")
    cluster = clusters[0].get("cluster") or {}
    server = cluster.get("server")
    ca_data = cluster.get("certificate-authority-data")
    if not isinstance(server, str) or not server:
        raise ValueError("the cluster-info kubeconfig names no server")
    if not isinstance(ca_data, str) or not ca_data:
        raise ValueError("the cluster-info kubeconfig holds no certificate-authority-data")
    try:
        ca_pem = base64.b64decode(ca_data, validate=True)
    except binascii.Error:
        raise ValueError("the cluster-info certificate-authority-data is not base64") from None
    return server, ca_pem


# -- kubeadm token list --------------------------------------------------------------


def describe_ttl(secret: Object, now: float) -> str:
    """``kubeadm token list``'s TTL column: ``<forever>``, ``<invalid>`` or ``23h``."""
    left = expires_in(secret, now)
    if left is None:
        return "<forever>"
    if left <= 0:
        return "<invalid>"
    return _short_duration(left)


def _short_duration(seconds: float) -> str:
    """Upstream's duration.ShortHumanDuration: one unit (``45s``, ``23h``, ``6d``)."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m"
    hours = whole // 3600
    if hours < 24:
        return f"{hours}h"
    if hours < 24 * 365:
        return f"{hours // 24}d"
    return f"{hours // (24 * 365)}y"


def usages_of(secret: Object) -> list[str]:
    """The usages a Secret grants, sorted (as ``kubeadm token list`` shows them)."""
    return sorted(usage for usage in KNOWN_USAGES if has_usage(secret, usage))
