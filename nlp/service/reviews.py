"""The review queue: clues an officer has checked (已核对) or put aside (待核对), in SQLite.

The database lives under the desk's data folder (``--data``), is private (0600, folder 0700),
runs in WAL mode and writes in transactions. Reviewed rows never go into the corpus directly:
``train.py --add reviews.db`` (or the XLSX export) takes the confirmed ones, with the reviewer
and the review date.
"""

from __future__ import annotations

import datetime as _dt
import json
import sqlite3
from pathlib import Path

import pandas as pd

from nlp.errors import UserError
from nlp.service.store import PrivateDB, is_sqlite

PENDING = "待核对"
CONFIRMED = "已核对"
STATUSES = (PENDING, CONFIRMED)
DB_NAME = "reviews.db"
# column names of the export, as train.py --add reads them (nlp/training.py)
REVIEWED_COL, REVIEWER_COL, DATE_COL = "已核对", "核对人", "核对日期"

SCHEMA = """
CREATE TABLE IF NOT EXISTS reviews (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    created       TEXT NOT NULL,
    updated       TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('待核对', '已核对')),
    source_id     TEXT NOT NULL DEFAULT '',
    text          TEXT NOT NULL,
    labels        TEXT NOT NULL,            -- JSON {scheme: cell}, the labels as saved
    model         TEXT NOT NULL DEFAULT '{}', -- JSON {scheme: cell}, the model's labels
    model_version TEXT NOT NULL DEFAULT '',
    reviewer      TEXT NOT NULL DEFAULT '',
    reviewed_at   TEXT NOT NULL DEFAULT '',
    saved_by      TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS reviews_status ON reviews (status, id);
"""


def is_review_db(path: str | Path) -> bool:
    return is_sqlite(path)


def _now() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


class ReviewStore:
    """Review records in one private SQLite file; safe to share between the server's threads."""

    def __init__(self, path: str | Path, create: bool = True):
        self.db = PrivateDB(path, SCHEMA, "受理台数据库", create)
        self.path = self.db.path

    def close(self) -> None:
        self.db.close()

    # ------------------------------------------------------------------ writes
    def add(self, text: str, labels: dict, status: str, reviewer: str = "", model: dict | None = None,
            model_version: str = "", source_id: str = "", saved_by: str = "") -> int:
        now = _now()
        cur = self.db.write(
            "INSERT INTO reviews (created, updated, status, source_id, text, labels, model, model_version,"
            " reviewer, reviewed_at, saved_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (now, now, status, source_id, text, json.dumps(labels, ensure_ascii=False),
             json.dumps(model or {}, ensure_ascii=False), model_version, reviewer,
             now if status == CONFIRMED else "", saved_by))
        return int(cur.lastrowid)

    def update(self, rid: int, labels: dict, status: str, reviewer: str, saved_by: str = "") -> bool:
        now = _now()
        cur = self.db.write(
            "UPDATE reviews SET labels = ?, status = ?, reviewer = ?, updated = ?, saved_by = ?,"
            " reviewed_at = CASE WHEN ? = '已核对' THEN ? ELSE '' END WHERE id = ?",
            (json.dumps(labels, ensure_ascii=False), status, reviewer, now, saved_by, status, now, rid))
        return cur.rowcount == 1

    # ------------------------------------------------------------------ reads
    def _rows(self, where: str = "", args: tuple = (), tail: str = "") -> list[dict]:
        names, got = self.db.query(f"SELECT * FROM reviews {where} ORDER BY id DESC {tail}", args)
        rows = [dict(zip(names, r)) for r in got]
        for r in rows:
            r["labels"] = json.loads(r["labels"])
            r["model"] = json.loads(r["model"])
        return rows

    def get(self, rid: int) -> dict | None:
        rows = self._rows("WHERE id = ?", (rid,))
        return rows[0] if rows else None

    def list(self, status: str | None = None, limit: int = 50, offset: int = 0) -> list[dict]:
        if status:
            return self._rows("WHERE status = ?", (status, limit, offset), "LIMIT ? OFFSET ?")
        return self._rows("", (limit, offset), "LIMIT ? OFFSET ?")

    def counts(self) -> dict[str, int]:
        got = dict(self.db.query("SELECT status, COUNT(*) FROM reviews GROUP BY status")[1])
        return {s: int(got.get(s, 0)) for s in STATUSES}

    def frame(self, schemes: list[str], status: str | None = None) -> pd.DataFrame:
        """The records as a table in the labeled-file format train.py --add reads."""
        rows = self._rows("WHERE status = ?", (status,)) if status else self._rows()
        out = []
        for r in reversed(rows):
            out.append({"text": r["text"], **{s: r["labels"].get(s, "") for s in schemes},
                        REVIEWED_COL: "是" if r["status"] == CONFIRMED else "",
                        REVIEWER_COL: r["reviewer"], DATE_COL: r["reviewed_at"][:10],
                        "受理台编号": r["id"], "来源编号": r["source_id"], "模型版本": r["model_version"],
                        **{f"模型{s}": r["model"].get(s, "") for s in schemes}})
        columns = ["text", *schemes, REVIEWED_COL, REVIEWER_COL, DATE_COL, "受理台编号", "来源编号", "模型版本",
                   *[f"模型{s}" for s in schemes]]
        return pd.DataFrame(out, columns=columns)


def confirmed_table(path: str | Path, schemes: list[str]) -> pd.DataFrame:
    """What ``train.py --add`` takes from a review database: only the rows a person confirmed."""
    store = ReviewStore(path, create=False)
    try:
        frame = store.frame(schemes, CONFIRMED)
    except sqlite3.DatabaseError as e:
        raise UserError(f"受理台数据库 {path} 无法读取：{e}") from None
    finally:
        store.close()
    if frame.empty:
        raise UserError(f"受理台数据库 {path} 中没有已核对的记录。")
    return frame.drop(columns=[c for c in frame.columns if c.startswith("模型")]).astype(str)
