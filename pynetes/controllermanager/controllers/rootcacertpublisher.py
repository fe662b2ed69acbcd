"""The root-ca-cert-publisher: a ``kube-root-ca.crt`` ConfigMap in every namespace.

As upstream's rootcacertpublisher: the ConfigMap holds the cluster CA under
``ca.crt`` (pods verify the API server with it: the token volume projects
it), with upstream's ``kubernetes.io/description``. A namespace added or
changed, or the ConfigMap changed or deleted, queues its namespace; syncing
creates the ConfigMap or puts its data and description back. The CA is
``--root-ca-file``, else the one the controller manager's kubeconfig trusts.
"""

from __future__ import annotations

import argparse
from pathlib import Path
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
CONFIG_MAPS = built_in("", "v1", "configmaps")
CONFIG_MAP_NAME = "kube-root-ca.crt"
DESCRIPTION_ANNOTATION = "kubernetes.io/description"
DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal"
    " endpoints such as the internal service IP or kubernetes.default.svc. No other usage is"
    " guaranteed across distributions of Kubernetes clusters."
)


def root_ca(context: ControllerContext) -> str:
    """The CA PEM to publish: ``--root-ca-file``, else the client's (ValueError if none)."""
    path: Path | None = getattr(context.options, "root_ca_file", None)
    if path is not None:
        return path.read_text()
    if context.client.config.ca_pem is None:
        raise ValueError(
            "root-ca-cert-publisher needs a CA: --root-ca-file, or a kubeconfig naming one"
        )
    return context.client.config.ca_pem.decode()


class RootCaCertPublisher:
    """Keeps ``kube-root-ca.crt`` = the root CA in each namespace."""

    def __init__(self, context: ControllerContext) -> None:
        self._client = context.client
        self._data = {"ca.crt": root_ca(context)}
        namespaces = context.informers.informer(NAMESPACES)
        config_maps = context.informers.informer(CONFIG_MAPS)
        self._config_maps = Lister(config_maps.store)
        self._controller = Controller(
            "root_ca_cert_publisher", self._sync, queue=context.queue("root_ca_cert_publisher")
        )
        queue = self._controller.queue

        def namespace_changed(namespace: Object) -> None:
            queue.add(namespace["metadata"]["name"])

        def config_map_changed(config_map: Object) -> None:
            if config_map["metadata"]["name"] == CONFIG_MAP_NAME:
                queue.add(config_map["metadata"]["namespace"])

        namespaces.add_event_handler(
            EventHandler(on_add=namespace_changed, on_update=lambda _o, n: namespace_changed(n))
        )
        config_maps.add_event_handler(
            EventHandler(
                on_update=lambda _o, n: config_map_changed(n), on_delete=config_map_changed
            )
        )

    async def run(self) -> None:
        await self._controller.run()

    async def _sync(self, namespace: str) -> Result:
        current = self._config_maps.get(CONFIG_MAP_NAME, namespace)
        if current is None:
            await self._create(namespace)
            return Result()
        annotations = (current["metadata"].get("annotations")) or {}
        if current.get("data") == self._data and annotations.get(DESCRIPTION_ANNOTATION):
            return Result()
        metadata = dict(current["metadata"])
        metadata["annotations"] = {**annotations, DESCRIPTION_ANNOTATION: DESCRIPTION}
        await self._client.replace(
            CONFIG_MAPS, {**current, "metadata": metadata, "data": dict(self._data)}
        )
        return Result()

    async def _create(self, namespace: str) -> None:
        config_map = {
            "metadata": {
                "name": CONFIG_MAP_NAME,
                "namespace": namespace,
                "annotations": {DESCRIPTION_ANNOTATION: DESCRIPTION},
            },
            "data": dict(self._data),
        }
        try:
            await self._client.create(CONFIG_MAPS, config_map)
        except errors.NotFound:
            pass  # the namespace is gone: nothing to publish into
        except errors.ApiError as error:
            if not errors.namespace_terminating(error):
                raise


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--root-ca-file",
        type=Path,
        default=None,
        help="the CA published as kube-root-ca.crt (default: the CA of --kubeconfig)",
    )


CONTROLLER = ControllerDescriptor(
    name="root-ca-cert-publisher", build=RootCaCertPublisher, add_arguments=add_arguments
)
