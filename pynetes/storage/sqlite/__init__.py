"""The embedded SQLite backend."""

from pynetes.storage.sqlite.store import SQLiteStore

__all__ = ["SQLiteStore"]
