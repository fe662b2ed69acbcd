"""The files of configMap, secret, downwardAPI and projected volumes (their payloads).

Each function builds the ``path -> FileProjection`` map the AtomicWriter
writes, as upstream's MakePayload (configmap and secret) and CollectData
(downwardapi) do: without ``items`` every key is a file named after it; with
``items`` only the listed keys, at their ``path``; a file's mode is its item's
``mode``, else the volume's ``defaultMode`` (0644 unless set). A missing object
or key fails with upstream's message unless the source is ``optional`` (then it
is an empty volume, or the key is left out).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from pynetes.kubelet.downward import DownwardApiError, container_resource, metadata_field
from pynetes.kubelet.lookup import (
    ObjectLookup,
    config_map_binary_data,
    not_found_message,
    secret_data,
)
from pynetes.kubelet.volumes.atomic_writer import FileProjection

Object = dict[str, Any]
Payload = dict[str, FileProjection]

DEFAULT_MODE = 0o644


class PayloadSourceError(Exception):
    """A volume's content cannot be made; ``str()`` is upstream's message."""


def _mapped(
    data: Mapping[str, bytes],
    items: list[Object] | None,
    default_mode: int,
    optional: bool,
    missing: str,
) -> Payload:
    """upstream MakePayload over decoded data; ``missing`` is the error's start."""
    if not items:
        return {key: FileProjection(value, default_mode) for key, value in data.items()}
    payload = {}
    for item in items:
        key = item.get("key", "")
        if key not in data:
            if optional:
                continue
            raise PayloadSourceError(f"{missing}: {key}")
        mode = item.get("mode")
        payload[item["path"]] = FileProjection(data[key], default_mode if mode is None else mode)
    return payload


async def config_map_payload(
    source: Object, namespace: str, lookup: ObjectLookup, default_mode: int | None = None
) -> Payload:
    """The files of a configMap volume (or projected configMap source)."""
    name, optional = source.get("name", ""), bool(source.get("optional"))
    config_map = await lookup.get_config_map(namespace, name)
    if config_map is None:
        if not optional:
            raise PayloadSourceError(not_found_message("configmap", name))
        config_map = {}
    data = {key: value.encode() for key, value in (config_map.get("data") or {}).items()}
    data |= config_map_binary_data(config_map)
    mode = _mode(source, default_mode)
    return _mapped(
        data, source.get("items"), mode, optional, "configmap references non-existent config key"
    )


async def secret_payload(
    source: Object,
    namespace: str,
    lookup: ObjectLookup,
    default_mode: int | None = None,
    *,
    name_field: str = "secretName",
) -> Payload:
    """The files of a secret volume (``secretName``) or projected secret source (``name``)."""
    name, optional = source.get(name_field, ""), bool(source.get("optional"))
    secret = await lookup.get_secret(namespace, name)
    if secret is None:
        if not optional:
            raise PayloadSourceError(not_found_message("secret", name))
        secret = {}
    mode = _mode(source, default_mode)
    return _mapped(
        secret_data(secret),
        source.get("items"),
        mode,
        optional,
        "secret references non-existent secret key",
    )


def downward_api_payload(
    source: Object,
    pod: Object,
    node_allocatable: Mapping[str, Any],
    default_mode: int | None = None,
) -> Payload:
    """upstream CollectData: a file per item, from a fieldRef or a resourceFieldRef.

    Every item is tried; the errors are reported together, as upstream's
    aggregate (one message alone, several as ``[a, b]``).
    """
    mode = _mode(source, default_mode)
    payload, errors = {}, []
    for item in source.get("items") or []:
        try:
            if selector := item.get("fieldRef"):
                text = metadata_field(pod, selector.get("fieldPath", ""))
            elif selector := item.get("resourceFieldRef"):
                text = container_resource(selector, pod, None, node_allocatable)
            else:
                text = ""
        except DownwardApiError as error:
            errors.append(str(error))
            continue
        item_mode = item.get("mode")
        payload[os.path.normpath(item["path"])] = FileProjection(
            text.encode(), mode if item_mode is None else item_mode
        )
    if errors:
        raise PayloadSourceError(errors[0] if len(errors) == 1 else f"[{', '.join(errors)}]")
    return payload


async def projected_payload(
    source: Object, pod: Object, lookup: ObjectLookup, node_allocatable: Mapping[str, Any]
) -> Payload:
    """The files of a projected volume: its sources' files, later sources winning.

    A ``serviceAccountToken`` source is a token bound to the pod (see
    pynetes/kubelet/tokens.py); failing to get one raises ObjectLookupError.
    """
    mode = _mode(source, None)
    namespace = pod["metadata"].get("namespace") or "default"
    payload: Payload = {}
    errors = []
    for projection in source.get("sources") or []:
        try:
            if part := projection.get("configMap"):
                payload |= await config_map_payload(part, namespace, lookup, mode)
            elif part := projection.get("secret"):
                payload |= await secret_payload(part, namespace, lookup, mode, name_field="name")
            elif part := projection.get("downwardAPI"):
                payload |= downward_api_payload(part, pod, node_allocatable, mode)
            elif part := projection.get("serviceAccountToken"):
                token = await lookup.service_account_token(pod, part)
                payload[part["path"]] = FileProjection(token.encode(), mode)
        except PayloadSourceError as error:
            errors.append(str(error))
    if errors:
        raise PayloadSourceError(errors[0] if len(errors) == 1 else f"[{', '.join(errors)}]")
    return payload


def _mode(source: Object, inherited: int | None) -> int:
    """The source's ``defaultMode``, else the enclosing volume's, else 0644."""
    mode = source.get("defaultMode")
    if mode is not None:
        return mode
    return DEFAULT_MODE if inherited is None else inherited
