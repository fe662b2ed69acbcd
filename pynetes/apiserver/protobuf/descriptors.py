"""Protobuf message classes for the built-in kinds, built from ``schema.json``.

``schema.json`` (written by ``scripts/generate-protobuf-schema`` from the struct
tags of upstream's Go types) holds, per Go struct, its fields as
``[number, json name, shape, flags]``. The protobuf library parses the wire
format with classes built here from it; ``decoding.py`` turns a parsed message
into the JSON a Go client's object would encode to.

Shapes: ``string``, ``bytes``, ``int``, ``bool``, ``double``; the types with a
protobuf form of their own (``time``, ``microtime``, ``duration``,
``quantity``, ``intorstring``, ``raw``); ``msg:<Go type>``; ``list:<shape>``;
``map:<key shape>:<value shape>``. Flags: ``p`` Go holds the field by pointer,
``o`` its JSON tag has omitempty, ``i`` it is inlined into its parent's JSON.

Strings are declared as bytes: Go accepts any bytes in a string (its JSON then
shows invalid UTF-8 as U+FFFD), where the protobuf library would refuse them.
"""

from __future__ import annotations

import functools
import importlib.resources
from dataclasses import dataclass
from typing import Any, Final

import orjson
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import Message

_PACKAGE: Final = "pynetes.k8s"
_Field = descriptor_pb2.FieldDescriptorProto
_WIRE_TYPES: Final = {
    "string": _Field.TYPE_BYTES,
    "bytes": _Field.TYPE_BYTES,
    "int": _Field.TYPE_INT64,
    "bool": _Field.TYPE_BOOL,
    "double": _Field.TYPE_DOUBLE,
}
#: The messages of the special shapes: (field number, name, type) each.
_SPECIAL: Final = {
    "time": ((1, "seconds", _Field.TYPE_INT64), (2, "nanos", _Field.TYPE_INT64)),
    "microtime": ((1, "seconds", _Field.TYPE_INT64), (2, "nanos", _Field.TYPE_INT64)),
    "duration": ((1, "duration", _Field.TYPE_INT64),),
    "quantity": ((1, "string", _Field.TYPE_BYTES),),
    "intorstring": (
        (1, "type", _Field.TYPE_INT64),
        (2, "intVal", _Field.TYPE_INT64),
        (3, "strVal", _Field.TYPE_BYTES),
    ),
    "raw": ((1, "raw", _Field.TYPE_BYTES),),
}
#: A map's values that are lists (authentication's ``extra``): protobuf maps cannot hold
#: repeated values, so Go's protobuf wraps each list in a message of its own.
_WRAPPED_LIST: Final = "list:string"
#: runtime.Unknown, the envelope after the magic bytes, and its TypeMeta.
_ENVELOPE: Final = {
    "TypeMeta": ((1, "apiVersion", _Field.TYPE_BYTES), (2, "kind", _Field.TYPE_BYTES)),
    "Unknown": (
        (1, "typeMeta", f".{_PACKAGE}.TypeMeta"),
        (2, "raw", _Field.TYPE_BYTES),
        (3, "contentEncoding", _Field.TYPE_BYTES),
        (4, "contentType", _Field.TYPE_BYTES),
    ),
}


@dataclass(frozen=True, slots=True)
class FieldInfo:
    """One field of a Go struct: where its value goes in the JSON, and how."""

    number: int
    name: str
    json_name: str
    shape: str
    pointer: bool
    omitempty: bool
    inline: bool


@dataclass(frozen=True)
class Schema:
    """The message class of every Go struct and special shape, with their fields."""

    classes: dict[str, type[Message]]
    fields: dict[str, tuple[FieldInfo, ...]]

    def new(self, message_name: str) -> Message:
        return self.classes[message_name]()


def _message_name(go_type: str) -> str:
    """A protobuf identifier for a Go type (``k8s.io/api/apps/v1.Deployment``)."""
    return "".join(char if char.isalnum() else "_" for char in go_type)


def _field_type(shape: str) -> tuple[int, str]:
    """The protobuf type (and message name, for messages) of a non-repeated shape."""
    if shape in _WIRE_TYPES:
        return _WIRE_TYPES[shape], ""
    if shape in _SPECIAL:
        return _Field.TYPE_MESSAGE, f".{_PACKAGE}.{shape}"
    return _Field.TYPE_MESSAGE, f".{_PACKAGE}.{_message_name(shape.removeprefix('msg:'))}"


def _add_field(
    message: descriptor_pb2.DescriptorProto,
    number: int,
    name: str,
    shape: str,
    *,
    map_value: bool = False,
) -> None:
    field = message.field.add(name=name, number=number, label=_Field.LABEL_OPTIONAL)
    if map_value and shape == _WRAPPED_LIST:
        field.type, field.type_name = _Field.TYPE_MESSAGE, f".{_PACKAGE}.StringList"
        return
    if shape.startswith("list:"):
        shape = shape.removeprefix("list:")
        field.label = _Field.LABEL_REPEATED
    elif shape.startswith("map:"):
        _, key, value = shape.split(":", 2)
        entry = message.nested_type.add(name=f"Entry{number}")
        entry.options.map_entry = True
        _add_field(entry, 1, "key", key)
        entry.field[0].type = _Field.TYPE_STRING  # protobuf's map keys cannot be bytes
        _add_field(entry, 2, "value", value, map_value=True)
        field.label = _Field.LABEL_REPEATED
        field.type = _Field.TYPE_MESSAGE
        field.type_name = f".{_PACKAGE}.{message.name}.Entry{number}"
        return
    field.type, type_name = _field_type(shape)
    if type_name:
        field.type_name = type_name


def _add_plain(file: descriptor_pb2.FileDescriptorProto, name: str, fields: tuple) -> None:
    message = file.message_type.add(name=name)
    for number, field_name, kind in fields:
        field = message.field.add(name=field_name, number=number, label=_Field.LABEL_OPTIONAL)
        if isinstance(kind, str):
            field.type, field.type_name = _Field.TYPE_MESSAGE, kind
        else:
            field.type = kind


@functools.cache
def schema() -> Schema:
    """Built on first use (a protobuf body is rare: kubectl's imperative creates)."""
    text = importlib.resources.files(__package__).joinpath("schema.json").read_bytes()
    structs: dict[str, list[list[Any]]] = orjson.loads(text)
    file = descriptor_pb2.FileDescriptorProto(
        name="pynetes-k8s.proto", package=_PACKAGE, syntax="proto2"
    )
    for name, fields in {**_SPECIAL, **_ENVELOPE}.items():
        _add_plain(file, name, fields)
    string_list = file.message_type.add(name="StringList")
    string_list.field.add(
        name="items", number=1, label=_Field.LABEL_REPEATED, type=_Field.TYPE_BYTES
    )
    infos: dict[str, tuple[FieldInfo, ...]] = {}
    for go_type, fields in structs.items():
        message = file.message_type.add(name=_message_name(go_type))
        entries = []
        for number, json_name, shape, flags in fields:
            _add_field(message, number, f"f{number}", shape)
            entries.append(
                FieldInfo(number, f"f{number}", json_name, shape, *(f in flags for f in "poi"))
            )
        infos[go_type] = tuple(entries)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(file)
    classes = {
        name: message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{_PACKAGE}.{name}"))
        for name in (*_SPECIAL, *_ENVELOPE)
    }
    for go_type in structs:
        descriptor = pool.FindMessageTypeByName(f"{_PACKAGE}.{_message_name(go_type)}")
        classes[go_type] = message_factory.GetMessageClass(descriptor)
    return Schema(classes, infos)
