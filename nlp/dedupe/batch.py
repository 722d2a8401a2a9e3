"""``classify.py --dedupe [--base PATH]``: 重复组 and 相似线索 columns for a batch.

Before the classification pass the input is read twice more, in chunks (memory stays bounded):

1. fingerprints: each chunk's MinHash signatures (in the worker processes when there are any);
   the parent keeps only the signatures (64 integers a report) and the ids;
2. verification: the reports in a candidate pair (and, with a base, every report) are read
   again, normalised and their elements extracted (in the workers); the parent keeps the
   normalised text and elements of the reports in a candidate pair only, verifies the pairs and
   groups them; with a base, each report is looked up in it as it comes.

The classification pass then gets the two columns with each chunk. With ``--base`` the batch is
added to the base after the output file is complete, one transaction a chunk (a re-run after a
killed run adds what is missing and never adds a report twice).
"""

from __future__ import annotations

import collections
from pathlib import Path

import numpy as np
import pandas as pd

from nlp.dedupe import settings
from nlp.dedupe.fingerprint import canonical
from nlp.dedupe.matcher import Matcher, groups

ID_COLUMNS = ("id", "编号", "线索编号")
GROUP, SIMILAR, EARLIER = "重复组", "相似线索", "既往相似线索"
ROW = "_dedupe_row"
LABELS = ("质量", "维度", "作为类型", "东丽类别", "盐山类别")

_MATCHER: Matcher | None = None  # set in the parent before the workers fork


def _norms(texts) -> list[str]:
    from nlp.normalize import normalize

    return [normalize(t if isinstance(t, str) else str(t)) for t in texts]


def _signatures(texts: list) -> np.ndarray:
    return _MATCHER.fingerprinter.signatures([canonical(t, normalized=True) for t in _norms(texts)])


def _details(texts: list) -> list[tuple[str, object]]:
    """(normalised text, verification document) of each text, built once (in a worker)."""
    verifier = _MATCHER.verifier
    return [(t, verifier.doc(canonical(t, normalized=True), verifier.elements(t))) for t in _norms(texts)]


def row_ids(chunk, source: Path) -> list[str]:
    """The id column's values (id, 编号 or 线索编号) or else the row numbers as Excel shows them."""
    first = 0 if str(source).lower().endswith((".jsonl", ".ndjson")) else 1
    numbers = [str(n + first) for n in chunk.rows]
    for c in ID_COLUMNS:
        if c in chunk.frame.columns:
            return [str(v).strip() or n for v, n in zip(chunk.frame[c].tolist(), numbers)]
    return numbers


class BatchDedupe:
    """The repeat columns of one batch run (see the module docstring)."""

    def __init__(self, source: Path, column: str, chunk_size: int, base=None, matcher: Matcher | None = None):
        self.source, self.column, self.chunk_size, self.base = source, column, chunk_size, base
        self.matcher = matcher or (base.matcher if base is not None else Matcher.default())
        self.show = int(settings()["search"]["show"])
        self.ids: list[str] = []
        self.group: dict[int, int] = {}
        self.matches: dict[int, list[tuple[int, float]]] = {}
        self.earlier: dict[int, list[dict]] = {}
        self.labels: dict[int, dict] = {}
        self._offset = 0
        global _MATCHER
        _MATCHER = self.matcher  # before the workers fork: they inherit it

    def warm_up(self) -> "BatchDedupe":
        """Load the tokenizer, tables and converters now, so forked workers share them."""
        self.matcher.prepare(["某县民政局2023年3月起对低保申请长期不予答复，造成群众多次白跑。"])
        return self

    @staticmethod
    def _map(pool, fn, items, window: int = 4):
        """fn over items in order, in the pool's workers with at most ``window`` chunks in flight."""
        if pool is None:
            yield from map(fn, items)
            return
        pending: collections.deque = collections.deque()
        for item in items:
            pending.append(pool.apply_async(fn, (item,)))
            if len(pending) >= window:
                yield pending.popleft().get()
        while pending:
            yield pending.popleft().get()

    def _chunks(self):
        from nlp.io import read_chunks

        return read_chunks(self.source, self.chunk_size)

    def prepare(self, pool=None, check=None, workers: int = 1) -> None:
        """Passes 1 and 2 (module docstring); ``check(chunk)`` validates each input chunk;
        ``workers``: the processes of ``pool`` (the candidate pairs are scored in as many)."""
        sigs = []

        def texts_of(chunk):
            if check is not None:
                check(chunk)
            self.ids.extend(row_ids(chunk, self.source))
            return chunk.frame[self.column].tolist()

        for s in self._map(pool, _signatures, (texts_of(c) for c in self._chunks())):
            sigs.append(s)
        if not sigs:
            return
        sigs = np.concatenate(sigs)
        cands = self.matcher.candidates(sigs)
        need = set(cands) if self.base is None else None
        docs: dict[int, object] = {}

        picked: collections.deque = collections.deque()

        def wanted():
            start = 0
            for chunk in self._chunks():
                texts = chunk.frame[self.column].tolist()
                keep = [i for i in range(len(texts)) if need is None or start + i in need]
                picked.append([start + i for i in keep])
                start += len(texts)
                yield [texts[i] for i in keep]

        for found in self._map(pool, _details, wanted()):
            for row, detail in zip(picked.popleft(), found):
                if self.base is not None and detail[0]:
                    self._look_up(row, sigs[row], detail)
                if row in cands:  # kept only for the verification of the batch's own pairs
                    docs[row] = detail[1]
        self.matches = self.matcher.verify(cands, docs, workers=workers if pool is not None else 1)
        self.group = groups(self.matches, self.matcher.scores, self.matcher.verifier.threshold)

    def _look_up(self, row: int, sig, detail) -> None:
        from nlp.dedupe.base import digest

        norm, doc = detail
        found = self.base.similar_prepared(sig, doc, self.show, exclude_run=True,
                                          exclude=(self.ids[row], digest(norm)))
        if found:
            self.earlier[row] = found

    # ------------------------------------------------------------ columns
    def annotate(self, frame: pd.DataFrame) -> pd.DataFrame:
        """The chunk's input rows with the repeat columns (chunks in input order)."""
        rows = range(self._offset, self._offset + len(frame))
        self._offset += len(frame)
        frame = frame.copy()
        frame[GROUP] = [f"G{self.group[r]:04d}" if r in self.group else "" for r in rows]
        frame[SIMILAR] = ["|".join(f"{self.ids[b]}({s:.2f})" for b, s in self.matches.get(r, [])[:self.show])
                          for r in rows]
        if self.base is not None:
            frame[EARLIER] = ["|".join(f"{m['id']}({m['similarity']:.2f})" for m in self.earlier.get(r, []))
                              for r in rows]
            frame[ROW] = list(rows)
        return frame

    def collect(self, out: pd.DataFrame) -> pd.DataFrame:
        """Keep the labels of each input row (first output row) for the base; drop the row column."""
        if ROW not in out.columns:
            return out
        for row, rec in zip(out[ROW].tolist(), out[[c for c in LABELS if c in out.columns]].to_dict("records")):
            self.labels.setdefault(int(row), {k: str(v) for k, v in rec.items() if str(v) not in ("", "nan")})
        return out.drop(columns=[ROW])

    def store(self) -> int:
        """Add the batch to the base, one transaction a chunk."""
        added, offset = 0, 0
        for chunk in self._chunks():
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
