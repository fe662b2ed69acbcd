"""Protobuf request bodies as the JSON a Go client's object encodes to.

kubectl 1.32 and later (and client-go programs configured for protobuf) send
built-in objects as ``application/vnd.kubernetes.protobuf``: the bytes
``k8s\\x00``, then a ``runtime.Unknown`` holding the object's apiVersion and
kind and the object's own message. Upstream decodes that into the Go struct
and would encode it to JSON by the struct's JSON tags; this module goes
straight to that JSON, so the rest of the server handles the body as it
handles a JSON one:

- a scalar Go holds by value is on the wire even when zero, and its JSON
  omits a zero under ``omitempty``; one held by pointer is on the wire only
  when set, and its JSON keeps it, zero or not (``replicas: 0``);
- a struct held by value is always in the JSON (``status: {}``); an inline
  one's fields join its parent's; a zero Time is ``null``;
- lists and maps absent from the wire are absent from the JSON (Go's nil).
"""

from __future__ import annotations

import base64
import datetime
from typing import Any, Final

import orjson
from google.protobuf.message import DecodeError, Message

from pynetes.api import errors
from pynetes.api.duration import format_duration
from pynetes.apiserver.protobuf.descriptors import FieldInfo, Schema, schema

MAGIC: Final = b"k8s\x00"
META: Final = "k8s.io/apimachinery/pkg/apis/meta/v1"
#: Each served group's Go package.
_PACKAGES: Final = {
    "": "k8s.io/api/core/v1",
    "apps": "k8s.io/api/apps/v1",
    "batch": "k8s.io/api/batch/v1",
    "coordination.k8s.io": "k8s.io/api/coordination/v1",
    "discovery.k8s.io": "k8s.io/api/discovery/v1",
    "events.k8s.io": "k8s.io/api/events/v1",
    "networking.k8s.io": "k8s.io/api/networking/v1",
    "policy": "k8s.io/api/policy/v1",
    "rbac.authorization.k8s.io": "k8s.io/api/rbac/v1",
    "scheduling.k8s.io": "k8s.io/api/scheduling/v1",
    "authentication.k8s.io": "k8s.io/api/authentication/v1",
    "authorization.k8s.io": "k8s.io/api/authorization/v1",
    "autoscaling": "k8s.io/api/autoscaling/v1",
    "certificates.k8s.io": "k8s.io/api/certificates/v1",
}
#: Kinds every group version carries (the options of a DELETE, for one).
_META_KINDS: Final = frozenset({"DeleteOptions", "Status"})
_EPOCH: Final = datetime.datetime(1970, 1, 1, tzinfo=datetime.UTC)


class UnknownKind(Exception):
    """The envelope names a kind that has no protobuf form here (a custom resource)."""


def decode(body: bytes) -> dict[str, Any]:
    """The object of a protobuf body, JSON-shaped.

    ApiError 400 for bytes that are not a well-formed envelope or message;
    UnknownKind when its kind has no protobuf form (the caller answers 415,
    as upstream does for custom resources).
    """
    if not body.startswith(MAGIC):
        raise errors.bad_request(
            "error decoding request body: provided data does not appear to be a protobuf"
            f" message, expected prefix [{' '.join(map(str, MAGIC))}]"
        )
    types = schema()
    envelope = types.new("Unknown")
    _parse(envelope, body[len(MAGIC) :])
    api_version = envelope.typeMeta.apiVersion.decode("utf-8", "replace")
    kind = envelope.typeMeta.kind.decode("utf-8", "replace")
    if envelope.contentEncoding:
        raise errors.bad_request("error decoding request body: content encodings are not supported")
    go_type = _go_type(types, api_version, kind)
    message = types.new(go_type)
    _parse(message, envelope.raw)
    obj: dict[str, Any] = {"kind": kind, "apiVersion": api_version}
    obj.update(_struct(types, go_type, message))
    return obj


def _parse(message: Message, data: bytes) -> None:
    try:
        message.ParseFromString(data)
    except DecodeError as error:
        raise errors.bad_request(f"error decoding request body: {error}") from None


def _go_type(types: Schema, api_version: str, kind: str) -> str:
    group = api_version.rpartition("/")[0]
    package = META if kind in _META_KINDS else _PACKAGES.get(group)
    go_type = f"{package}.{kind}"
    if package is None or go_type not in types.fields:
        raise UnknownKind(f"{api_version}, Kind={kind}")
    return go_type


def _struct(types: Schema, go_type: str, message: Message) -> dict[str, Any]:
    """A Go struct's JSON, its fields in the struct's order."""
    obj: dict[str, Any] = {}
    for info in types.fields[go_type]:
        if info.shape.startswith(("list:", "map:")):
            items = getattr(message, info.name)
            if items:
                obj[info.json_name] = _container(types, info.shape, items)
        elif message.HasField(info.name):
            value = _value(types, info.shape, getattr(message, info.name), info)
            if info.inline and isinstance(value, dict):
                obj.update(value)
            elif value is not _OMITTED:
                obj[info.json_name] = value
    return obj


_OMITTED: Final = object()
_ZEROS: Final = ("", b"", 0, False)


def _value(types: Schema, shape: str, value: Any, info: FieldInfo | None) -> Any:
    """One value's JSON; _OMITTED for a zero under omitempty (``info``: the field it
    is the value of; None for list items and map values, which are never omitted)."""
    if shape.startswith("msg:"):
        return _struct(types, shape[4:], value)
    if (
        info is not None
        and info.omitempty
        and not info.pointer
        and shape in ("string", "bytes", "int", "bool", "double")
        and value in _ZEROS
    ):
        return _OMITTED
    if shape == "string":
        return value.decode("utf-8", "replace")
    if shape == "bytes":
        return base64.b64encode(value).decode("ascii")
    if shape in ("int", "bool", "double"):
        return value
    return _special(shape, value)


def _container(types: Schema, shape: str, items: Any) -> Any:
    if shape.startswith("list:"):
        return [_value(types, shape[5:], item, None) for item in items]
    value_shape = shape.split(":", 2)[2]
    if value_shape.startswith("list:"):  # wrapped in a StringList
        return {
            key: [item.decode("utf-8", "replace") for item in value.items]
            for key, value in items.items()
        }
    return {key: _value(types, value_shape, value, None) for key, value in items.items()}


def _special(shape: str, message: Any) -> Any:
    """The JSON of a type with a protobuf form of its own."""
    if shape in ("time", "microtime"):
        if not message.HasField("seconds"):
            return None  # Go's zero Time marshals to an empty message and to JSON null
        try:
            moment = _EPOCH + datetime.timedelta(seconds=message.seconds)
        except OverflowError:
            raise errors.bad_request("error decoding request body: time out of range") from None
        if shape == "time":
            return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{message.nanos // 1000:06d}Z"
    if shape == "duration":
        return format_duration(message.duration / 1e9)
    if shape == "quantity":
        return message.string.decode("utf-8", "replace") or "0"
    if shape == "intorstring":
        return message.strVal.decode("utf-8", "replace") if message.type == 1 else message.intVal
    # raw: an embedded JSON document (RawExtension, FieldsV1)
    if not message.raw:
        return None
    try:
        return orjson.loads(message.raw)
    except orjson.JSONDecodeError as error:
        raise errors.bad_request(f"error decoding request body: {error}") from None
