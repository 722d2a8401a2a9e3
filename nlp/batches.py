"""Corpus additions as recorded, reversible steps.

Every ``train.py --add`` is a batch: an id (its time, ``20261207-201530``) written into the
``added`` column of the rows it adds, and one line in a journal beside the corpus
(``clues.batches.jsonl`` for ``clues.csv``) with the rows it added, the labels it changed (old
and new values), the model version trained with it and whether that version was enabled.
``train.py --undo-add BATCH`` takes the batch out again: its rows are removed and the labels it
changed get their old values back, so undoing the latest batch gives the corpus file back byte
for byte. A model rollback (``--rollback``) changes only which model is used, never the corpus.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from nlp.errors import UserError
from nlp.io import write_text_atomic

BATCH_RE = re.compile(r"^\d{8}-\d{6}(?:-\d{1,3})?$")


def journal_path(corpus_path: str | Path) -> Path:
    p = Path(corpus_path)
    return p.with_name(p.stem + ".batches.jsonl")


def file_digest(path: str | Path) -> str:
    p = Path(path)
    return hashlib.sha256(p.read_bytes()).hexdigest()[:16] if p.exists() else ""


def read_journal(corpus_path: str | Path) -> list[dict]:
    path = journal_path(corpus_path)
    if not path.exists():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict) and BATCH_RE.fullmatch(str(entry.get("batch", ""))):
            out.append(entry)
    return out


def _write_journal(corpus_path: str | Path, entries: list[dict]) -> None:
    text = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in entries)
    write_text_atomic(journal_path(corpus_path), text)


def new_batch_id(corpus_path: str | Path) -> str:
    base = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    used = {e["batch"] for e in read_journal(corpus_path)}
    n, bid = 1, base
    while bid in used:
        n += 1
        bid = f"{base}-{n}"
    return bid


@dataclass
class Batch:
    id: str
    file: str
    rows: list[str]  # ids of the rows it added
    changes: list[dict]  # {"id", "column", "old", "new"}: labels of existing rows it changed
    columns_before: list[str]

    def record(self, corpus_path: str | Path, digest_before: str, model_before: str | None) -> None:
        """Journal the batch before the corpus is written (a killed run leaves a batch with no
        rows in the corpus, which --undo-add handles; never rows with no batch)."""
        entries = [e for e in read_journal(corpus_path) if e["batch"] != self.id]
        entries.append({"batch": self.id, "time": _dt.datetime.now().isoformat(timespec="seconds"),
                        "file": self.file, "rows": self.rows, "changes": self.changes,
                        "columns_before": self.columns_before, "corpus_before": digest_before,
                        "model_before": model_before or "", "model": "", "enabled": False, "undone": ""})
        _write_journal(corpus_path, entries)


def update(corpus_path: str | Path, batch: str, **fields) -> None:
    entries = read_journal(corpus_path)
    for e in entries:
        if e["batch"] == batch:
            e.update(fields)
    _write_journal(corpus_path, entries)


def undo(corpus: pd.DataFrame, corpus_path: str | Path, batch: str) -> tuple[pd.DataFrame, dict, list[str]]:
    """The corpus without ``batch``: its rows removed, the labels it changed given their old
    values back. Returns (corpus, journal entry, notes on labels changed again since)."""
    entries = read_journal(corpus_path)
    entry = next((e for e in entries if e["batch"] == batch), None)
    if entry is None:
        known = "、".join(e["batch"] for e in entries if not e.get("undone")) or "（无）"
        raise UserError(f"语料 {corpus_path} 没有追加批次 {batch}。可撤销的批次：{known}。")
    if entry.get("undone"):
        raise UserError(f"批次 {batch} 已于 {entry['undone']} 撤销过，语料中已没有它的行。")
    ids = set(entry.get("rows", []))
    mine = corpus["id"].isin(ids)  # ids are assigned by the batch; rows from the desk keep their review date in added
    out = corpus[~mine].copy()
    notes = []
    index = {rid: k for k, rid in zip(out.index, out["id"])}
    for ch in reversed(entry.get("changes", [])):
        k = index.get(ch["id"])
        if k is None or ch["column"] not in out.columns:
            notes.append(f"{ch['id']} 已不在语料中，其“{ch['column']}”无法恢复")
            continue
        if str(out.at[k, ch["column"]]) != ch["new"]:
            notes.append(f"{ch['id']} 的“{ch['column']}”在此批次之后又被改过（现为“{out.at[k, ch['column']]}”），保持不变")
            continue
        out.at[k, ch["column"]] = ch["old"]
    before = entry.get("columns_before") or list(out.columns)
    extra = [c for c in out.columns if c not in before and (out[c].astype(str) == "").all()]
    return out.drop(columns=extra).reset_index(drop=True), entry, notes


def mark_undone(corpus_path: str | Path, batch: str) -> None:
    update(corpus_path, batch, undone=_dt.datetime.now().isoformat(timespec="seconds"))


def describe(entry: dict) -> str:
    """One line for --list."""
    parts = [f"新增 {len(entry.get('rows', []))} 行"]
    labels = [c for c in entry.get("changes", []) if c.get("column") != "reviewer"]
    if labels:
        parts.append(f"改标 {len(labels)} 处")
    if entry.get("model"):
        parts.append(f"训练出模型 {entry['model']}")
    state = f"已撤销（{entry['undone']}）" if entry.get("undone") else "在语料中"
    return f"  {entry['batch']}  {entry.get('file', '')}：{'，'.join(parts)}；{state}"
