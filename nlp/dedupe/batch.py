"""``classify.py --dedupe [--base PATH]``: 重复组 and 相似线索 columns for a batch, in the
classification pass itself.

Each chunk is classified and fingerprinted in the same worker task (``details``: MinHash
signatures and verification documents of its reports), so the input is read and normalised once.
The repeat columns of a report are only known once every report has been fingerprinted, so until
then the classified rows wait in a private spool file beside the output, with a placeholder in
each repeat cell (a token with a random key of this run, so no text of a clue can pose as one).
The parent keeps the signatures (64 integers a report) and spools the documents; after the last
chunk it finds the candidate pairs, reads back the documents of the reports in a pair, verifies
and groups them, and writes the spooled rows with the placeholders filled in. With ``--base`` each
report is looked up in the base as its chunk comes back, and the batch is added to the base after
the output file is complete, one transaction a chunk (a re-run after a killed run adds what is
missing and never adds a report twice). The spool files are removed whatever happens.
"""

from __future__ import annotations

import csv
import io
import json
import os
import pickle
import re
import secrets
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from nlp.dedupe import settings
from nlp.dedupe.matcher import Matcher, groups

ID_COLUMNS = ("id", "编号", "线索编号")
GROUP, SIMILAR, EARLIER = "重复组", "相似线索", "既往相似线索"
ROW = "_dedupe_row"
LABELS = ("质量", "维度", "作为类型", "东丽类别", "盐山类别")
_KIND = {GROUP: "G", SIMILAR: "S", EARLIER: "E"}

_MATCHER: Matcher | None = None  # set in the parent before the workers fork


def details(texts: list, with_norms: bool = False):
    """(signatures, verification documents, normalised texts or None) of a chunk's reports (in
    a worker: the matcher is the one the parent set before forking)."""
    from nlp.normalize import normalize

    norms = [normalize(t if isinstance(t, str) else str(t)) for t in texts]
    sigs, docs = _MATCHER.prepare(norms, normalized=True)
    return sigs, docs, norms if with_norms else None


def row_ids(chunk, source: Path) -> list[str]:
    """The id column's values (id, 编号 or 线索编号) or else the row numbers as Excel shows them."""
    first = 0 if str(source).lower().endswith((".jsonl", ".ndjson")) else 1
    numbers = [str(n + first) for n in chunk.rows]
    for c in ID_COLUMNS:
        if c in chunk.frame.columns:
            return [str(v).strip() or n for v, n in zip(chunk.frame[c].tolist(), numbers)]
    return numbers


class _Spool:
    """Pickled items appended to a private temporary file beside ``target``, read back in order."""

    def __init__(self, target: Path):
        from nlp.tempfiles import prefix

        fd, name = tempfile.mkstemp(prefix=prefix(target), suffix=".tmp", dir=target.parent)  # 0600
        self.path = Path(name)
        self.fh = os.fdopen(fd, "w+b")

    def add(self, item) -> None:
        pickle.dump(item, self.fh, protocol=pickle.HIGHEST_PROTOCOL)

    def items(self):
        self.fh.flush()
        self.fh.seek(0)
        while True:
            try:
                yield pickle.load(self.fh)  # our own file of this run, private to this user
            except EOFError:
                return

    def close(self) -> None:
        self.fh.close()
        self.path.unlink(missing_ok=True)


class BatchDedupe:
    """The repeat columns of one batch run (see the module docstring)."""

    def __init__(self, source: Path, column: str, chunk_size: int, base=None, matcher: Matcher | None = None,
                 target: Path | None = None):
        self.source, self.column, self.chunk_size, self.base = source, column, chunk_size, base
        self.matcher = matcher or (base.matcher if base is not None else Matcher.default())
        self.show = int(settings()["search"]["show"])
        self.ids: list[str] = []
        self.sigs: list[np.ndarray] = []
        self.group: dict[int, int] = {}
        self.matches: dict[int, list[tuple[int, float]]] = {}
        self.earlier: dict[int, list[dict]] = {}
        self.labels: dict[int, dict] = {}
        self.key = secrets.token_hex(8)
        self._token = re.compile(f"⟦{self.key}([GSE])(\\d+)⟧")
        self._offset = 0
        where = Path(target) if target is not None else Path(tempfile.gettempdir()) / "dedupe"
        self.docs = _Spool(where)  # verification documents, read back for the candidate rows
        self.rows = _Spool(where)  # classified rows with placeholders in the repeat cells
        global _MATCHER
        _MATCHER = self.matcher  # before the workers fork: they inherit it

    def warm_up(self) -> "BatchDedupe":
        """Load the tokenizer, tables and converters now, so forked workers share them."""
        self.matcher.prepare(["某县民政局2023年3月起对低保申请长期不予答复，造成群众多次白跑。"])
        return self

    def close(self) -> None:
        self.docs.close()
        self.rows.close()

    # ------------------------------------------------------- before a chunk goes out
    def annotate(self, chunk) -> pd.DataFrame:
        """The chunk's input rows with a placeholder in each repeat column (chunks in input order)."""
        frame = chunk.frame
        self.ids.extend(row_ids(chunk, self.source))
        rows = range(self._offset, self._offset + len(frame))
        self._offset += len(frame)
        frame = frame.copy()
        for column in (GROUP, SIMILAR) + ((EARLIER,) if self.base is not None else ()):
            frame[column] = [f"⟦{self.key}{_KIND[column]}{r}⟧" for r in rows]
        if self.base is not None:
            frame[ROW] = list(rows)
        return frame

    # ------------------------------------------------------- as a chunk comes back
    def take(self, found) -> None:
        """A chunk's ``details`` (in input order): keep the signatures, spool the documents and,
        with a base, look each report up in it."""
        sigs, docs, norms = found
        start = sum(len(s) for s in self.sigs)
        self.sigs.append(sigs)
        self.docs.add((start, docs))
        if self.base is not None:
            from nlp.dedupe.base import digest

            for i, (sig, doc, norm) in enumerate(zip(sigs, docs, norms)):
                if norm:
                    hits = self.base.similar_prepared(sig, doc, self.show, exclude_run=True,
                                                      exclude=(self.ids[start + i], digest(norm)))
                    if hits:
                        self.earlier[start + i] = hits

    def hold(self, item) -> None:
        """Spool a classified chunk: (columns, rendered text) or a frame."""
        self.rows.add(item)

    def collect(self, out: pd.DataFrame) -> pd.DataFrame:
        """Keep the labels of each input row (first output row) for the base; drop the row column."""
        if ROW not in out.columns:
            return out
        for row, rec in zip(out[ROW].tolist(), out[[c for c in LABELS if c in out.columns]].to_dict("records")):
            self.labels.setdefault(int(row), {k: str(v) for k, v in rec.items() if str(v) not in ("", "nan")})
        return out.drop(columns=[ROW])

    # ------------------------------------------------------- after the last chunk
    def finish(self, workers: int = 1) -> None:
        """Candidate pairs, verification (documents of the reports in a pair only), groups."""
        if not self.sigs:
            return
        cands = self.matcher.candidates(np.concatenate(self.sigs))
        docs: dict[int, object] = {}
        for start, chunk_docs in self.docs.items():
            docs.update((start + i, d) for i, d in enumerate(chunk_docs) if start + i in cands)
        self.matches = self.matcher.verify(cands, docs, workers=workers)
        self.group = groups(self.matches, self.matcher.scores, self.matcher.verifier.threshold)

    def value(self, kind: str, row: int) -> str:
        if kind == "G":
            return f"G{self.group[row]:04d}" if row in self.group else ""
        if kind == "S":
            return "|".join(f"{self.ids[b]}({s:.2f})" for b, s in self.matches.get(row, [])[:self.show])
        return "|".join(f"{m['id']}({m['similarity']:.2f})" for m in self.earlier.get(row, []))

    def held(self, fmt: str | None):
        """The spooled chunks with the repeat cells filled: (columns, text) or frames."""
        for item in self.rows.items():
            if isinstance(item, pd.DataFrame):
                for column in (GROUP, SIMILAR, EARLIER):
                    if column in item.columns:
                        item[column] = [self._fill_cell(v) for v in item[column].tolist()]
                yield item
            else:
                columns, text = item
                yield columns, self._token.sub(lambda m: _escape(self.value(m[1], int(m[2])), fmt), text)

    def _fill_cell(self, v) -> str:
        m = self._token.fullmatch(str(v))
        return self.value(m[1], int(m[2])) if m else v

    def store(self) -> int:
        """Add the batch to the base, one transaction a chunk."""
        from nlp.io import read_chunks

        added, offset = 0, 0
        for chunk in read_chunks(self.source, self.chunk_size):
            texts = chunk.frame[self.column].tolist()
            reports = [{"id": self.ids[offset + i], "text": t if isinstance(t, str) else str(t),
                        "labels": self.labels.get(offset + i, {})} for i, t in enumerate(texts)]
            offset += len(texts)
            added += self.base.add(reports)
        return added

    def summary(self) -> str:
        sizes: dict[int, int] = {}
        for g in self.group.values():
            sizes[g] = sizes.get(g, 0) + 1
        if sizes:
            line = (f"重复件：{len(sizes)} 个事项有重复反映，共 {sum(sizes.values())} 条线索"
                    f"（最多的一个事项 {max(sizes.values())} 条），见“{GROUP}”“{SIMILAR}”列。")
        else:
            line = "重复件：本批没有发现重复反映同一事项的线索。"
        if self.base is not None:
            line += f"\n与线索库中既往线索相似的 {len(self.earlier)} 条，见“{EARLIER}”列。"
        return line


def _escape(value: str, fmt: str | None) -> str:
    """A cell's text as ``render_rows`` would have written it in ``fmt`` (csv, tsv or jsonl)."""
    if not value:
        return ""
    if fmt == "jsonl":
        return json.dumps(value, ensure_ascii=False)[1:-1]
    from nlp.writers import formula_risk

    if formula_risk(value):
        value = "'" + value
    out = io.StringIO()
    csv.writer(out, delimiter="\t" if fmt == "tsv" else ",", lineterminator="").writerow([value])
    return out.getvalue()
