"""Storage errors: each one a distinct outcome the API server maps to a Status."""

from __future__ import annotations


class StorageError(Exception):
    """Base of every error a store raises."""


class KeyExistsError(StorageError):
    """create() of a key that exists (HTTP 409 AlreadyExists)."""

    def __init__(self, key: str) -> None:
        super().__init__(f"key already exists: {key}")
        self.key = key


class KeyNotFoundError(StorageError):
    """update() or delete() of a key that does not exist (HTTP 404)."""

    def __init__(self, key: str) -> None:
        super().__init__(f"key not found: {key}")
        self.key = key


class ConflictError(StorageError):
    """A guarded write whose expected mod_revision is not the current one (HTTP 409)."""

    def __init__(self, key: str, *, expected: int | None, actual: int | None) -> None:
        super().__init__(
            f"conflict on {key}: expected revision {expected}, current revision {actual}"
        )
        self.key = key
        self.expected = expected
        self.actual = actual


class CompactedError(StorageError):
    """A read or watch of history that compaction has removed (HTTP 410 Gone)."""

    def __init__(self, requested: int, compacted: int) -> None:
        super().__init__(
            f"revision {requested} has been compacted; the oldest available is {compacted}"
        )
        self.requested = requested
        self.compacted = compacted


class ValueTooLargeError(StorageError):
    """A value over the request limit etcd enforces (HTTP 413)."""

    def __init__(self, key: str, size: int, limit: int) -> None:
        super().__init__(f"value for {key} is {size} bytes; the limit is {limit} bytes")
        self.key = key
        self.size = size
        self.limit = limit


class InvalidContinueTokenError(StorageError):
    """A continue token this store did not issue, or for another prefix (HTTP 400)."""


class UnavailableError(StorageError):
    """The backend could not be reached, after retries (HTTP 503 / 504)."""


class DatabaseFileError(StorageError):
    """The database file is damaged or belongs to something else; never overwritten."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"{path}: {reason}")
        self.path = path


class FutureRevisionError(StorageError):
    """A read at a revision the store has not reached yet (etcd's ErrFutureRev)."""

    def __init__(self, requested: int, current: int) -> None:
        super().__init__(f"revision {requested} is newer than the current revision {current}")
        self.requested = requested
        self.current = current
