"""The SQLite file: its schema, its settings, and the checks made before trusting it.

The table is an append-only log of revisions, as kine's and etcd's MVCC are:
each write adds a row; the newest row of a key is its current state; a row
with ``deleted = 1`` is a tombstone. Compaction removes the rows that no read
at or after the compacted revision can see.

Durability (the fsync policy): WAL journal with ``synchronous = FULL``. A
write is acknowledged only after the transaction holding it has committed,
and in FULL mode every commit fsyncs the WAL, so an acknowledged write
survives ``kill -9`` and power loss alike. Group commit shares that one
fsync between every write in the batch.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from pynetes.storage.errors import DatabaseFileError

#: "pk8s": marks the file as ours, so a foreign SQLite file is never written to.
APPLICATION_ID = 0x706B3873
SCHEMA_VERSION = 2
#: The WAL is truncated back to this size whenever a checkpoint resets it.
WAL_SIZE_LIMIT = 64 * 1024 * 1024

_SCHEMA = """
CREATE TABLE kv (
    rev      INTEGER PRIMARY KEY,  -- the revision of this write
    key      TEXT    NOT NULL,
    created  INTEGER NOT NULL,     -- create_revision of the entry
    prev_rev INTEGER,              -- this key's previous row, if any
    deleted  INTEGER NOT NULL,     -- 1 for a tombstone
    value    BLOB    NOT NULL,
    expires  REAL                  -- wall-clock expiry (TTL), or NULL
);
-- with deleted: a count of the live keys in a range (a LIST page's
-- remainingItemCount) reads this index alone, not a table row per key
CREATE INDEX kv_key_rev_deleted ON kv (key, rev, deleted);
CREATE INDEX kv_expires ON kv (expires) WHERE expires IS NOT NULL;
CREATE TABLE meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
INSERT INTO meta VALUES ('revision', 0), ('compacted', 0);
"""


#: What each schema version changes in the one before, applied in order when a store
#: written by an older pynetes is opened.
_MIGRATIONS = {
    2: "CREATE INDEX kv_key_rev_deleted ON kv (key, rev, deleted); DROP INDEX kv_key_rev;",
}


def connect(path: Path, *, readonly: bool) -> sqlite3.Connection:
    """A connection with this store's settings; transactions are explicit."""
    connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    connection.execute("PRAGMA busy_timeout = 5000")
    if readonly:
        connection.execute("PRAGMA query_only = 1")
    else:
        connection.execute("PRAGMA synchronous = FULL")
        connection.execute(f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}")
        # Checkpoints run on their own connection (see checkpoint()), never
        # inside a commit of the writer, so they cannot stall writes.
        connection.execute("PRAGMA wal_autocheckpoint = 0")
    connection.execute("PRAGMA cache_size = -65536")
    return connection


def checkpoint(connection: sqlite3.Connection) -> None:
    """Copy the WAL into the database file without blocking the writer or readers.

    A PASSIVE checkpoint runs alongside the writer; once it has copied every
    frame, the writer's next transaction starts the WAL over, and
    ``journal_size_limit`` truncates the file. This is what keeps the WAL
    from growing without bound.
    """
    connection.execute("PRAGMA wal_checkpoint(PASSIVE)")


def open_database(path: Path) -> sqlite3.Connection:
    """Open (creating if new) the database for writing, after checking it is ours and sound;
    a store written by an older pynetes is brought to this schema (``_MIGRATIONS``).

    Raises DatabaseFileError naming the file when it is not a SQLite database,
    belongs to another application, has a newer schema, or fails SQLite's
    integrity check. Nothing is written to such a file.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        connection = connect(path, readonly=False)
        _check_and_initialise(connection, path)
    except sqlite3.DatabaseError as error:
        raise DatabaseFileError(
            str(path), f"cannot be used as a pynetes database ({error}); move it away or restore it"
        ) from None
    return connection


def _check_and_initialise(connection: sqlite3.Connection, path: Path) -> None:
    application_id = connection.execute("PRAGMA application_id").fetchone()[0]
    tables = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
    if application_id == 0 and tables == 0:
        _initialise(connection)
        return
    if application_id != APPLICATION_ID:
        raise DatabaseFileError(
            str(path), "is a SQLite database of another application, not a pynetes store"
        )
    version = connection.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise DatabaseFileError(
            str(path), f"has schema version {version}; this pynetes knows {SCHEMA_VERSION}"
        )
    problems = [row[0] for row in connection.execute("PRAGMA quick_check(5)")]
    if problems != ["ok"]:
        raise DatabaseFileError(str(path), "is damaged: " + "; ".join(problems))
    connection.execute("PRAGMA journal_mode = WAL")
    for target in range(version + 1, SCHEMA_VERSION + 1):
        connection.executescript(
            f"BEGIN IMMEDIATE; {_MIGRATIONS[target]} PRAGMA user_version = {target}; COMMIT;"
        )


def _initialise(connection: sqlite3.Connection) -> None:
    connection.execute("PRAGMA journal_mode = WAL")
    connection.executescript(
        f"BEGIN IMMEDIATE; {_SCHEMA}"
        f"PRAGMA application_id = {APPLICATION_ID}; PRAGMA user_version = {SCHEMA_VERSION};"
        "COMMIT;"
    )
