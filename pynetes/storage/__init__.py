"""Cluster state storage: one interface (:class:`Store`), an SQLite and an etcd backend.

Only the API server imports this package.
"""

from pynetes.storage.errors import (
    CompactedError,
    ConflictError,
    DatabaseFileError,
    FutureRevisionError,
    InvalidContinueTokenError,
    KeyExistsError,
    KeyNotFoundError,
    StorageError,
    UnavailableError,
    ValueTooLargeError,
)
from pynetes.storage.interface import (
    MAX_VALUE_BYTES,
    EventType,
    KeyValue,
    ListPage,
    Store,
    WatchEvent,
)

__all__ = [
    "MAX_VALUE_BYTES",
    "CompactedError",
    "ConflictError",
    "DatabaseFileError",
    "EventType",
    "FutureRevisionError",
    "InvalidContinueTokenError",
    "KeyExistsError",
    "KeyNotFoundError",
    "KeyValue",
    "ListPage",
    "StorageError",
    "Store",
    "UnavailableError",
    "ValueTooLargeError",
    "WatchEvent",
]
