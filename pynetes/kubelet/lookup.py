"""How the kubelet reads the ConfigMaps and Secrets its pods use.

Environment variables and volumes both resolve references to ConfigMaps and
Secrets of the pod's namespace; projected volumes also need service account
tokens (requested and cached by :class:`~pynetes.kubelet.tokens.TokenManager`).
:class:`ObjectLookup` is the small protocol they need; :class:`ApiObjectLookup`
answers it from the API server. A missing object is ``None``; any other failure
raises, so that a pod is not started with an environment or files silently missing.

Objects are returned as the API serves them: a Secret's ``data`` (and a
ConfigMap's ``binaryData``) values are base64; :func:`secret_data` and
:func:`config_map_binary_data` decode them.
"""

from __future__ import annotations

import base64
from typing import Any, Protocol

from pynetes.api.resources import built_in
from pynetes.client import errors
from pynetes.client.rest import ApiClient
from pynetes.kubelet.tokens import TokenManager

Object = dict[str, Any]

CONFIG_MAPS = built_in("", "v1", "configmaps")
SECRETS = built_in("", "v1", "secrets")


class ObjectLookupError(Exception):
    """The object could not be read (other than not existing); ``str()`` says why."""


class ObjectLookup(Protocol):
    """Reads ConfigMaps and Secrets by namespace and name; None when there is none.

    Any other failure raises :class:`ObjectLookupError`.
    """

    async def get_config_map(self, namespace: str, name: str) -> Object | None: ...

    async def get_secret(self, namespace: str, name: str) -> Object | None: ...

    async def service_account_token(self, pod: Object, projection: Object) -> str:
        """The token of a projected volume's ``serviceAccountToken`` source."""
        ...


class ApiObjectLookup:
    """:class:`ObjectLookup` through the API server, one GET per call.

    Upstream's kubelet watches the objects its pods reference; one GET per
    pod sync reads the same state, only later by at most one sync period.
    """

    def __init__(self, client: ApiClient) -> None:
        self._client = client
        self._tokens = TokenManager(client)

    async def get_config_map(self, namespace: str, name: str) -> Object | None:
        return await self._get(CONFIG_MAPS, namespace, name)

    async def get_secret(self, namespace: str, name: str) -> Object | None:
        return await self._get(SECRETS, namespace, name)

    async def service_account_token(self, pod: Object, projection: Object) -> str:
        try:
            return await self._tokens.token(pod, projection)
        except errors.ApiError as error:
            raise ObjectLookupError(error.message or str(error)) from error
        except errors.TransportError as error:
            raise ObjectLookupError(str(error)) from error

    async def _get(self, resource: Any, namespace: str, name: str) -> Object | None:
        try:
            return await self._client.get(resource, name, namespace=namespace)
        except errors.NotFound:
            return None
        except errors.ApiError as error:
            raise ObjectLookupError(error.message or str(error)) from error
        except errors.TransportError as error:
            raise ObjectLookupError(str(error)) from error


def not_found_message(kind: str, name: str) -> str:
    """The message of upstream's NotFound error of the kubelet's object managers."""
    return f'{kind} "{name}" not found'


def secret_data(secret: Object) -> dict[str, bytes]:
    """A Secret's ``data``, decoded from base64."""
    return {key: base64.b64decode(value) for key, value in (secret.get("data") or {}).items()}


def config_map_binary_data(config_map: Object) -> dict[str, bytes]:
    """A ConfigMap's ``binaryData``, decoded from base64."""
    binary = config_map.get("binaryData") or {}
    return {key: base64.b64decode(value) for key, value in binary.items()}
