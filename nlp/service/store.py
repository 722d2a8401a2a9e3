"""A private SQLite file for the desk: created 0600 (its folder 0700), WAL mode, every write in
one transaction, one connection shared by the server's threads behind a lock."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

from nlp.errors import UserError

SQLITE_MAGIC = b"SQLite format 3\x00"


def is_sqlite(path: str | Path) -> bool:
    """A SQLite database (by its first bytes, whatever its name)."""
    try:
        with open(path, "rb") as fh:
            return fh.read(len(SQLITE_MAGIC)) == SQLITE_MAGIC
    except OSError:
        return False


class PrivateDB:
    def __init__(self, path: str | Path, schema: str, what: str, create: bool = True):
        self.path = Path(path)
        self.what = what
        if not self.path.exists():
            if not create:
                raise UserError(f"找不到{what} {self.path}")
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        elif self.path.stat().st_size and not is_sqlite(self.path):
            raise UserError(f"{self.path} 不是{what}（SQLite）。")
        os.chmod(self.path, 0o600)  # WAL and shared-memory files take the database file's mode
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            if create:
                self._db.executescript(schema)
        except sqlite3.DatabaseError as e:
            raise UserError(f"{what} {self.path} 无法打开：{e}") from None

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def write(self, sql: str, args: tuple = ()) -> sqlite3.Cursor:
        """One statement in its own transaction (BEGIN IMMEDIATE ... COMMIT, ROLLBACK on error)."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                cur = self._db.execute(sql, args)
                self._db.execute("COMMIT")
                return cur
            except BaseException:
                self._db.execute("ROLLBACK")
                raise

    def query(self, sql: str, args: tuple = ()) -> tuple[list[str], list[tuple]]:
        with self._lock:
            cur = self._db.execute(sql, args)
            return [d[0] for d in cur.description], cur.fetchall()
