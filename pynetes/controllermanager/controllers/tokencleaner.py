"""The tokencleaner: deletes bootstrap token Secrets once they have expired.

As upstream's TokenCleaner: each Secret of type ``bootstrap.kubernetes.io/token``
in ``kube-system`` is judged by its ``expiration`` against
``context.wall_clock``. One that has expired (or whose expiration does not
parse) is deleted with a UID precondition (a Conflict or NotFound means
someone else already replaced or deleted it); one that has not is requeued
for when it will. A Secret without expiration lives until deleted. Like
upstream's, it is off unless named in ``--controllers``.
"""

from __future__ import annotations

import contextlib
import logging

from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.cache.indexer import split_key
from pynetes.client.cache.informer import enqueue_keys
from pynetes.client.cache.lister import Lister
from pynetes.cluster.bootstraptoken import TOKEN_SECRETS_FIELD_SELECTOR, expires_in
from pynetes.controller import Controller, Result
from pynetes.controllermanager.context import ControllerContext
from pynetes.controllermanager.descriptor import ControllerDescriptor

log = logging.getLogger(__name__)

SECRETS = built_in("", "v1", "secrets")


class TokenCleaner:
    """Deletes expired bootstrap token Secrets."""

    def __init__(self, context: ControllerContext) -> None:
        self._client = context.client
        self._wall_clock = context.wall_clock
        secrets = context.informers.informer(SECRETS, field_selector=TOKEN_SECRETS_FIELD_SELECTOR)
        self._secrets = Lister(secrets.store)
        self._controller = Controller(
            "token_cleaner", self._sync, queue=context.queue("token_cleaner")
        )
        secrets.add_event_handler(enqueue_keys(self._controller.queue))

    async def run(self) -> None:
        await self._controller.run()

    async def _sync(self, key: str) -> Result:
        namespace, name = split_key(key)
        secret = self._secrets.get(name, namespace)
        if secret is None:
            return Result()
        left = expires_in(secret, self._wall_clock())
        if left is None:
            return Result()
        if left > 0:
            return Result(requeue_after=left)
        log.info("deleting expired bootstrap token secret %s", key)
        uid = secret["metadata"].get("uid")
        with contextlib.suppress(errors.NotFound, errors.Conflict):
            await self._client.delete(
                SECRETS, name, namespace=namespace, preconditions={"uid": uid} if uid else None
            )
        return Result()


CONTROLLER = ControllerDescriptor(name="tokencleaner", build=TokenCleaner, enabled_by_default=False)
