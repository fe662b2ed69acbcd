"""Conversions between etcd's messages and the Store contract's types."""

from __future__ import annotations

from aetcd import rpc

from pynetes.storage.interface import EventType, KeyValue, WatchEvent


def _encode(key: str) -> bytes:
    return key.encode("utf-8", "surrogateescape")


def _decode(key: bytes) -> str:
    return key.decode("utf-8", "surrogateescape")


def _key_value(kv: rpc.KeyValue) -> KeyValue:
    return KeyValue(_decode(kv.key), kv.value, kv.create_revision, kv.mod_revision)


def _watch_event(event: rpc.Event) -> WatchEvent:
    kv = _key_value(event.kv)
    prev = _key_value(event.prev_kv) if event.HasField("prev_kv") else None
    if event.type == rpc.Event.DELETE:
        created = prev.create_revision if prev else 0
        return WatchEvent(EventType.DELETED, KeyValue(kv.key, b"", created, kv.mod_revision), prev)
    if kv.create_revision == kv.mod_revision:
        return WatchEvent(EventType.CREATED, kv, None)
    return WatchEvent(EventType.UPDATED, kv, prev)
