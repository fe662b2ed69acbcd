"""The bootstrapsigner: signs ``kube-public/cluster-info`` with every signing bootstrap token.

As upstream's bootstrap signer: the ConfigMap's ``kubeconfig`` gets, for each
bootstrap token Secret that is well-formed, not expired and marked
``usage-bootstrap-signing: "true"``, the key ``jws-kubeconfig-<token id>``
holding the detached JWS of that kubeconfig keyed by the token secret
(:func:`pynetes.cluster.bootstraptoken.detached_signature`). Signatures of
tokens deleted, expired or no longer for signing are removed; other keys
are left alone. A joining node proves the ConfigMap came from the cluster
by checking its token's signature.

Any change to cluster-info or a token Secret queues the one key; the sync
also requeues itself for the next expiry (judged by ``context.wall_clock``),
so an expired token's signature goes even before the tokencleaner deletes it.
Like upstream's, it is off unless named in ``--controllers``.
"""

from __future__ import annotations

import logging
from typing import Any

from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.cache.informer import EventHandler
from pynetes.client.cache.lister import Lister
from pynetes.cluster.bootstraptoken import (
    CLUSTER_INFO_NAME,
    CLUSTER_INFO_NAMESPACE,
    JWS_KEY_PREFIX,
    KUBECONFIG_KEY,
    SECRET_NAMESPACE,
    TOKEN_SECRETS_FIELD_SELECTOR,
    detached_signature,
    expires_in,
    signing_token,
)
from pynetes.controller import Controller, Result
from pynetes.controllermanager.context import ControllerContext
from pynetes.controllermanager.descriptor import ControllerDescriptor

log = logging.getLogger(__name__)
Object = dict[str, Any]

SECRETS = built_in("", "v1", "secrets")
CONFIG_MAPS = built_in("", "v1", "configmaps")
CLUSTER_INFO_KEY = f"{CLUSTER_INFO_NAMESPACE}/{CLUSTER_INFO_NAME}"


class BootstrapSigner:
    """Keeps the ``jws-kubeconfig-*`` keys of cluster-info = the signing tokens' signatures."""

    def __init__(self, context: ControllerContext) -> None:
        self._client = context.client
        self._wall_clock = context.wall_clock
        config_maps = context.informers.informer(
            CONFIG_MAPS,
            field_selector=f"metadata.namespace={CLUSTER_INFO_NAMESPACE},"
            f"metadata.name={CLUSTER_INFO_NAME}",
        )
        secrets = context.informers.informer(SECRETS, field_selector=TOKEN_SECRETS_FIELD_SELECTOR)
        self._config_maps = Lister(config_maps.store)
        self._secrets = Lister(secrets.store)
        self._controller = Controller(
            "bootstrap_signer", self._sync, queue=context.queue("bootstrap_signer")
        )
        queue = self._controller.queue

        def changed(*_objects: Object) -> None:
            queue.add(CLUSTER_INFO_KEY)

        handler = EventHandler(on_add=changed, on_update=changed, on_delete=changed)
        config_maps.add_event_handler(handler)
        secrets.add_event_handler(handler)

    async def run(self) -> None:
        await self._controller.run()

    async def _sync(self, _key: str) -> Result:
        config_map = self._config_maps.get(CLUSTER_INFO_NAME, CLUSTER_INFO_NAMESPACE)
        data = (config_map or {}).get("data") or {}
        content = data.get(KUBECONFIG_KEY)
        if config_map is None or content is None:
            return Result()  # nothing to sign (yet): its creation queues this again
        now = self._wall_clock()
        signatures, next_expiry = self._signatures(content, now)
        current = {key: value for key, value in data.items() if key.startswith(JWS_KEY_PREFIX)}
        if current != signatures:
            kept = {key: value for key, value in data.items() if key not in current}
            try:
                await self._client.replace(CONFIG_MAPS, {**config_map, "data": kept | signatures})
            except errors.NotFound:
                return Result()
            log.info("signed %s for %d bootstrap token(s)", CLUSTER_INFO_KEY, len(signatures))
        return Result(requeue_after=next_expiry or 0.0)

    def _signatures(self, content: str, now: float) -> tuple[dict[str, str], float | None]:
        """The wanted ``jws-kubeconfig-*`` keys, and the seconds until a signing token expires."""
        signatures: dict[str, str] = {}
        next_expiry: float | None = None
        for secret in self._secrets.list(SECRET_NAMESPACE):
            token = signing_token(secret, now)
            if token is None:
                continue
            signatures[JWS_KEY_PREFIX + token.id] = detached_signature(content, token)
            left = expires_in(secret, now)
            if left is not None and (next_expiry is None or left < next_expiry):
                next_expiry = left
        return signatures, next_expiry


CONTROLLER = ControllerDescriptor(
    name="bootstrapsigner", build=BootstrapSigner, enabled_by_default=False
)
