"""The build store: results of units of work, keyed by (kind, content hash), in SQLite.

Every unit of work (an env image build, a validated instance, a mined page) writes its result
here once it is complete, under a key that hashes all of its inputs. A run that stops anywhere
and starts again finds what was finished and redoes only the rest; unchanged input finds
everything and does nothing.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from swegc.errors import StoreError

STORE_SCHEMA_VERSION = 1


class BuildStore:
    """A thread-safe key-value store of JSON results; one connection per thread."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"{self.path.parent}: cannot create the folder of the build store "
                             f"({exc.strerror}); give a folder you can write") from None
        self._local = threading.local()
        conn = self._conn()
        conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
        conn.execute("CREATE TABLE IF NOT EXISTS results (kind TEXT, key TEXT, value TEXT, "
                     "PRIMARY KEY (kind, key))")
        row = conn.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        if row is None:
            conn.execute("INSERT INTO meta VALUES ('schema_version', ?)",
                         (str(STORE_SCHEMA_VERSION),))
        elif int(row[0]) != STORE_SCHEMA_VERSION:
            raise StoreError(f"{self.path}: build store schema {row[0]} is not supported by "
                             f"this swegc (expects {STORE_SCHEMA_VERSION}); use a new --out")
        conn.commit()

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            try:
                conn = sqlite3.connect(self.path, timeout=60, isolation_level=None)
                conn.execute("PRAGMA journal_mode=WAL")
                conn.execute("PRAGMA synchronous=NORMAL")
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: cannot open the build store: {exc}") from None
            self._local.conn = conn
        return conn

    def get(self, kind: str, key: str) -> Any | None:
        row = self._conn().execute("SELECT value FROM results WHERE kind=? AND key=?",
                                   (kind, key)).fetchone()
        return None if row is None else json.loads(row[0])

    def put(self, kind: str, key: str, value: Any) -> None:
        text = json.dumps(value, sort_keys=True, ensure_ascii=False)
        self._conn().execute("INSERT OR REPLACE INTO results VALUES (?, ?, ?)", (kind, key, text))

    def delete(self, kind: str, key: str) -> None:
        self._conn().execute("DELETE FROM results WHERE kind=? AND key=?", (kind, key))

    def keys(self, kind: str) -> list[str]:
        rows = self._conn().execute("SELECT key FROM results WHERE kind=? ORDER BY key", (kind,))
        return [r[0] for r in rows]

    def items(self, kind: str) -> Iterator[tuple[str, Any]]:
        rows = self._conn().execute("SELECT key, value FROM results WHERE kind=? ORDER BY key",
                                    (kind,)).fetchall()
        for key, value in rows:
            yield key, json.loads(value)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None
