"""The serviceaccount controller: a ``default`` ServiceAccount in every active namespace.

As upstream's ServiceAccountsController: a namespace added or changed, or a
ServiceAccount deleted, queues its namespace; syncing a namespace creates
each missing account it ensures. Terminating namespaces are left alone (the
API server refuses creates in them anyway).
"""

from __future__ import annotations

from typing import Any

from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.cache.informer import EventHandler
from pynetes.client.cache.lister import Lister
from pynetes.controller import Controller, Result
from pynetes.controllermanager.context import ControllerContext
from pynetes.controllermanager.descriptor import ControllerDescriptor

Object = dict[str, Any]

NAMESPACES = built_in("", "v1", "namespaces")
SERVICE_ACCOUNTS = built_in("", "v1", "serviceaccounts")
#: The accounts every namespace gets (upstream's DefaultServiceAccountsControllerOptions).
ENSURED = ("default",)


class ServiceAccountsController:
    """Creates the :data:`ENSURED` accounts in each active namespace."""

    def __init__(self, context: ControllerContext) -> None:
        self._client = context.client
        namespaces = context.informers.informer(NAMESPACES)
        accounts = context.informers.informer(SERVICE_ACCOUNTS)
        self._namespaces = Lister(namespaces.store)
        self._accounts = Lister(accounts.store)
        self._controller = Controller(
            "serviceaccount", self._sync, queue=context.queue("serviceaccount")
        )
        queue = self._controller.queue

        def namespace_changed(namespace: Object) -> None:
            queue.add(namespace["metadata"]["name"])

        namespaces.add_event_handler(
            EventHandler(on_add=namespace_changed, on_update=lambda _o, n: namespace_changed(n))
        )
        accounts.add_event_handler(
            EventHandler(on_delete=lambda account: queue.add(account["metadata"]["namespace"]))
        )

    async def run(self) -> None:
        await self._controller.run()

    async def _sync(self, namespace_name: str) -> Result:
        namespace = self._namespaces.get(namespace_name)
        if namespace is None or (namespace.get("status") or {}).get("phase") != "Active":
            return Result()
        for name in ENSURED:
            if self._accounts.get(name, namespace_name) is not None:
                continue
            account = {"metadata": {"name": name, "namespace": namespace_name}}
            try:
                await self._client.create(SERVICE_ACCOUNTS, account)
            except errors.AlreadyExists:
                pass
            except errors.Forbidden:
                return Result()  # the namespace is terminating: nothing to ensure
        return Result()


CONTROLLER = ControllerDescriptor(name="serviceaccount", build=ServiceAccountsController)
