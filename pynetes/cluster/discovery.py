"""Token discovery: how a joining node finds the cluster's CA, as ``kubeadm join --token``.

The node knows an API server URL, a bootstrap token and the pinned hash of
the cluster CA's public key (``--ca-cert-hash sha256:...``), nothing else.
:func:`discover` does what kubeadm's token discovery does:

1. reads ``kube-public/cluster-info`` anonymously *without* verifying the
   server's certificate (it cannot yet: that is what it is looking for);
2. checks the ``jws-kubeconfig-<token id>`` signature of its ``kubeconfig``
   with the token secret: only someone holding the token could have made
   it, so the content comes from the cluster (compared in constant time);
3. checks that the CA in that kubeconfig has a pinned public-key hash: the
   token alone is weak (anyone who saw it could sign), the pin is not;
4. reads cluster-info again, now verifying the server with that CA, and
   checks it is the same content.

Each failure is a :class:`DiscoveryError` that says what went wrong and
never holds the token secret. One attempt each: the caller retries, except on a
:class:`DiscoveryRefused` (wrong input, or a cluster that cannot be trusted: asking
again gets the same answer, as kubeadm, which only waits for cluster-info to exist
and be signed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import aiohttp

from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.config import ClientConfig
from pynetes.client.rest import ApiClient
from pynetes.client.retry import RetryPolicy
from pynetes.cluster.bootstraptoken import (
    CLUSTER_INFO_NAME,
    CLUSTER_INFO_NAMESPACE,
    JWS_KEY_PREFIX,
    KUBECONFIG_KEY,
    BootstrapToken,
    normalize_hash,
    parse_cluster_info,
    parse_token,
    public_key_hashes,
    signature_is_valid,
)

Object = dict[str, Any]
CONFIG_MAPS = built_in("", "v1", "configmaps")
_ONE_ATTEMPT = RetryPolicy(attempts=1)


class DiscoveryError(Exception):
    """The cluster could not be found or not be trusted; the message says why."""


class DiscoveryRefused(DiscoveryError):
    """Discovery cannot succeed by retrying: the token or a pin is malformed or
    missing, the signature does not verify, or the CA is not the pinned one."""


async def discover(
    server: str,
    token: BootstrapToken | str,
    ca_cert_hashes: Sequence[str],
    *,
    unsafe_skip_ca_verification: bool = False,
) -> tuple[bytes, str]:
    """The cluster CA (PEM) and the API server URL cluster-info names, once trusted.

    ``server`` is the URL to ask (``https://host:port``); ``token`` a bootstrap
    token (text or parsed); ``ca_cert_hashes`` the accepted pins
    (``sha256:<hex>``), at least one unless ``unsafe_skip_ca_verification``
    (kubeadm's ``--discovery-token-unsafe-skip-ca-verification``).
    """
    try:
        parsed = parse_token(token) if isinstance(token, str) else token
        pins = {normalize_hash(pin) for pin in ca_cert_hashes}
    except ValueError as error:
        raise DiscoveryRefused(str(error)) from None
    if not pins and not unsafe_skip_ca_verification:
        raise DiscoveryRefused(
            "a CA public key hash (--ca-cert-hash sha256:...) is needed to trust the cluster;"
            " 'pynetes token create --print-join-command' prints one"
        )
    insecure = ClientConfig(server, insecure_skip_tls_verify=True, qps=0)
    content = _signed_kubeconfig(await _cluster_info(insecure), parsed)
    try:
        cluster_server, ca_pem = parse_cluster_info(content)
        found = public_key_hashes(ca_pem)
    except ValueError as error:
        raise DiscoveryRefused(f"the cluster-info ConfigMap is not usable: {error}") from None
    if pins and not pins.intersection(found):
        raise DiscoveryRefused(
            "the cluster CA in the cluster-info ConfigMap is not the pinned one: none of its"
            f" public keys ({', '.join(found)}) matches --ca-cert-hash"
        )
    secure = ClientConfig(server, ca_pem=ca_pem, qps=0)
    again = await _cluster_info(secure)
    if (again.get("data") or {}).get(KUBECONFIG_KEY) != content:
        raise DiscoveryError(
            "the cluster-info ConfigMap read over TLS verified with its CA differs from the"
            " one read before: retry (it changed), or someone is in the middle"
        )
    return ca_pem, cluster_server


def _signed_kubeconfig(config_map: Object, token: BootstrapToken) -> str:
    """The kubeconfig of cluster-info, once its signature for ``token`` checks out."""
    data = config_map.get("data") or {}
    content = data.get(KUBECONFIG_KEY)
    if not isinstance(content, str):
        raise DiscoveryError(f"the cluster-info ConfigMap has no {KUBECONFIG_KEY!r} key")
    signature = data.get(JWS_KEY_PREFIX + token.id)
    if not isinstance(signature, str):
        raise DiscoveryError(
            f"the cluster-info ConfigMap has no signature for token id {token.id!r}: the token"
            " does not exist, has expired or is not for signing, or the bootstrapsigner"
            " controller has not signed it yet"
        )
    if not signature_is_valid(signature, content, token):
        raise DiscoveryRefused(
            f"the cluster-info signature for token id {token.id!r} does not verify with the"
            " token's secret: wrong token, or this API server cannot be trusted"
        )
    return content


async def _cluster_info(config: ClientConfig) -> Object:
    """``kube-public/cluster-info``, read anonymously; DiscoveryError for each failure."""
    where = f"the API server at {config.server}"
    try:
        async with ApiClient(config, retry=_ONE_ATTEMPT) as client:
            return await client.get(
                CONFIG_MAPS, CLUSTER_INFO_NAME, namespace=CLUSTER_INFO_NAMESPACE
            )
    except errors.NotFound:
        raise DiscoveryError(
            f"{where} has no ConfigMap {CLUSTER_INFO_NAMESPACE}/{CLUSTER_INFO_NAME}"
        ) from None
    except (errors.Unauthorized, errors.Forbidden) as error:
        raise DiscoveryError(
            f"{where} refuses an anonymous read of {CLUSTER_INFO_NAMESPACE}/{CLUSTER_INFO_NAME}:"
            f" {error}"
        ) from None
    except errors.ApiError as error:
        raise DiscoveryError(f"{where} failed to answer: {error}") from None
    except errors.TransportError as error:
        if isinstance(error.__cause__, aiohttp.ClientConnectorCertificateError):
            raise DiscoveryError(
                f"{where} does not present a certificate signed by the cluster-info CA"
                f" for this address: {error}"
            ) from None
        raise DiscoveryError(f"{where} is unreachable: {error}") from None
