"""The clue base: every report classified with ``--base``, so a new batch is matched against all
earlier ones. SQLite: WAL journal, one transaction per ``add``, file mode 0600 (clue text is
confidential). Each report keeps its id, normalised text, labels, extracted elements and date;
its fingerprint is its LSH band keys, kept in an indexed table (``buckets``), so a lookup reads a
few dozen index ranges whatever the size of the base.

    >>> base = ClueBase("线索库.sqlite")
    >>> base.add([{"id": "C0012", "text": "……", "labels": {"维度": "懒"}, "date": "2026-12-07"}])
    >>> base.similar("……", k=5)   # [{"id", "similarity", "text", "date"}, ...]
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import sqlite3
from pathlib import Path

import numpy as np

from nlp.dedupe import settings
from nlp.dedupe.fingerprint import canonical
from nlp.errors import UserError

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS reports (
  rid INTEGER PRIMARY KEY, id TEXT NOT NULL, digest TEXT NOT NULL, text TEXT NOT NULL,
  elements TEXT NOT NULL, labels TEXT NOT NULL, date TEXT NOT NULL, run TEXT NOT NULL,
  UNIQUE (id, digest));
CREATE TABLE IF NOT EXISTS buckets (key INTEGER NOT NULL, rid INTEGER NOT NULL, PRIMARY KEY (key, rid)) WITHOUT ROWID;
"""


def digest(norm: str) -> str:
    return hashlib.sha256(norm.encode("utf-8")).hexdigest()[:32]


class ClueBase:
    """Earlier reports, their fingerprints and labels.

    Parameters
    ----------
    path : the SQLite file (created 0600 when missing).
    matcher : nlp.dedupe.matcher.Matcher; default the one of ``nlp/data/dedupe.toml``.
    """

    def __init__(self, path: str | Path, matcher=None):
        from nlp.dedupe.matcher import Matcher

        self.path = Path(path)
        self.matcher = matcher or Matcher.default()
        self.run = _dt.datetime.now().strftime("%Y%m%d%H%M%S%f")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            self.db = sqlite3.connect(str(self.path), timeout=60, isolation_level=None)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA cache_size=-262144")  # 256 MB of pages: the bucket index stays hot
            self.db.executescript(SCHEMA)
        except sqlite3.DatabaseError as e:
            raise UserError(f"线索库 {self.path} 无法打开（{e}）：请确认它是本工具建立的线索库文件。") from None
        except OSError as e:
            raise UserError(f"线索库 {self.path} 无法建立（{e.strerror}）。") from None
        self._check_settings()

    def _check_settings(self) -> None:
        fp = self.matcher.fingerprinter
        want = json.dumps({"bands": fp.bands, "rows": fp.rows, "seed": fp.seed, "common": sorted(fp.common)},
                          ensure_ascii=False)
        row = self.db.execute("SELECT v FROM meta WHERE k='fingerprint'").fetchone()
        if row is None:
            self.db.execute("INSERT OR IGNORE INTO meta VALUES ('fingerprint', ?)", (want,))
        elif row[0] != want:
            raise UserError(f"线索库 {self.path} 是用另一套指纹设置建立的（nlp/data/dedupe.toml 的 [fingerprint] 改过）："
                            "请恢复原设置，或另建一个线索库。")

    def __len__(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM reports").fetchone()[0]

    def close(self) -> None:
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ add
    def add(self, reports: list[dict]) -> int:
        """Store reports (dicts with ``id``, ``text`` and optionally ``labels``, ``date``) in one
        transaction; a report already stored (same id and text) is skipped. Returns the number added."""
        from nlp.normalize import normalize

        norms = [normalize(str(r.get("text", ""))) for r in reports]
        keep = [i for i, t in enumerate(norms) if t]
        canons = [canonical(norms[i], normalized=True) for i in keep]
        sigs = self.matcher.fingerprinter.signatures(canons)
        keys = self.matcher.fingerprinter.band_keys(sigs)
        verifier = self.matcher.verifier
        today = _dt.date.today().isoformat()
        added = 0
        buckets = []
        try:
            with self._transaction():
                for k, i in enumerate(keep):
                    r = reports[i]
                    cur = self.db.execute(
                        "INSERT OR IGNORE INTO reports (id, digest, text, elements, labels, date, run) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (str(r.get("id", "")), digest(norms[i]), norms[i],
                         json.dumps(verifier.elements(norms[i]), ensure_ascii=False),
                         json.dumps(r.get("labels") or {}, ensure_ascii=False), str(r.get("date") or today), self.run))
                    if cur.rowcount:
                        added += 1
                        buckets.extend((int(key), cur.lastrowid) for key in keys[k])
                buckets.sort()  # in index order: the B-tree is written page by page
                self.db.executemany("INSERT OR IGNORE INTO buckets VALUES (?, ?)", buckets)
        except sqlite3.Error as e:
            raise UserError(f"线索库 {self.path} 无法写入（{e}），本次的线索没有存入（已存入的不受影响）。") from None
        return added

    def _transaction(self):
        db = self.db

        class _Tx:
            def __enter__(self):
                db.execute("BEGIN IMMEDIATE")

            def __exit__(self, exc_type, exc, tb):
                db.execute("COMMIT" if exc_type is None else "ROLLBACK")

        return _Tx()

    # --------------------------------------------------------------- lookup
    def similar(self, text: str, k: int = 5) -> list[dict]:
        """The earlier reports of the same matter, most similar first:
        ``[{"id", "similarity", "text", "date"}, ...]`` (at most ``k``)."""
        sigs, docs = self.matcher.prepare([text])
        if not docs[0].canon:
            return []
        return self.similar_prepared(sigs[0], docs[0], k)

    def similar_prepared(self, sig: np.ndarray, doc, k: int = 5, exclude_run: bool = False,
                         exclude: tuple[str, str] | None = None) -> list[dict]:
        """``similar`` for a prepared report; ``exclude_run`` leaves out the reports this object
        added, ``exclude`` the report (id, digest of its normalised text) itself."""
        s = settings()["search"]
        keys = self.matcher.fingerprinter.band_keys(np.asarray(sig)[None, :])[0]
        limit = int(s["base_bucket_limit"])
        one = f"SELECT * FROM (SELECT rid FROM buckets WHERE key=? LIMIT {limit})"
        counts: dict[int, int] = {}
        for (rid,) in self.db.execute(" UNION ALL ".join([one] * len(keys)), keys.tolist()):
            counts[rid] = counts.get(rid, 0) + 1
        best = sorted((rid for rid, c in counts.items() if c >= int(s["base_min_bands"])),
                      key=lambda rid: (-counts[rid], rid))[:int(s["base_verify_top"])]
        if not best:
            return []
        marks = ",".join("?" * len(best))
        rows = self.db.execute(f"SELECT id, digest, text, elements, date, run FROM reports WHERE rid IN ({marks})",
                               best).fetchall()
        verifier = self.matcher.verifier
        rows = [r for r in rows if not ((exclude_run and r[5] == self.run) or (r[0], r[1]) == exclude)]
        others = verifier.docs([canonical(r[2], normalized=True) for r in rows], [json.loads(r[3]) for r in rows])
        found = []
        for (rid_id, _, norm, _, date, _), other in zip(rows, others):
            sim = verifier.similarity(doc, other)
            if sim >= verifier.threshold:
                found.append({"id": rid_id, "similarity": round(sim, 2), "text": norm, "date": date})
        found.sort(key=lambda r: (-r["similarity"], r["id"]))
        return found[:k]
