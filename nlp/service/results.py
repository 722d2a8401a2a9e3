"""The model behind the desk: one verified model, one ``Annotator``, one lock.

Every text becomes output rows through ``Annotator.annotate`` (the same rows classify.py
writes); this module only turns them into JSON and files, and checks labels an officer saves.
"""

from __future__ import annotations

import math
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pandas as pd

from nlp.errors import UserError
from nlp.normalize import normalize
from nlp.quality import is_bulletin, questions
from nlp.taxonomy import GOOD, LOW, QUALITY, Taxonomy

# Element columns an output row may carry (the 要素 work adds them); the page shows those present.
ELEMENT_FIELDS = ("被反映对象", "对象", "时间", "地点", "具体行为", "后果")
QUESTIONS_FIELD = "建议补问"  # added to each result: what to ask the reporter
MAX_FILE_ROWS = 50_000


def _plain(v):
    """A cell as JSON: numpy scalars as Python values, NaN as null."""
    if hasattr(v, "item"):
        v = v.item()
    if isinstance(v, float) and math.isnan(v):
        return None
    return v


class Desk:
    """Classify texts and files for the service; ``version`` is the loaded model version."""

    def __init__(self, annotator, version: str, base: Path | None = None):
        self.annotator = annotator
        self.version = version
        self.base = base  # the clue base (重复件) whose earlier reports each result lists as ``similar``
        self.taxonomy: Taxonomy = annotator.model.taxonomy_
        # One thread runs the Annotator: its jobs (single clues, file chunks) run in arrival order,
        # and the Annotator and its tokenizer are never used by two threads at once.
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="annotator")
        # Single clues that arrive while the annotator is busy wait together and go through it
        # as one batch (one call costs about as much for 20 texts as for 1).
        self._waiting: list[tuple[list[str], list[str], Future]] = []
        self._lock = threading.Lock()
        self._flush_queued = False

    def submit(self, ids: list[str], texts: list[str]) -> Future:
        """``classify`` in the annotator's thread, batched with the requests waiting with it."""
        future: Future = Future()
        with self._lock:
            self._waiting.append((ids, texts, future))
            if not self._flush_queued:
                self._flush_queued = True
                self.pool.submit(self._flush)
        return future

    def _flush(self) -> None:
        with self._lock:
            jobs, self._waiting, self._flush_queued = self._waiting, [], False
        jobs = [j for j in jobs if j[2].set_running_or_notify_cancel()]
        if not jobs:
            return
        try:
            keys = [f"{k}:{i}" for k, (ids, _, _) in enumerate(jobs) for i in range(len(ids))]
            rows = self.classify(keys, [t for _, texts, _ in jobs for t in texts])
        except BaseException as e:  # every waiting request gets the error (the page shows it)
            for _, _, future in jobs:
                future.set_exception(e)
            return
        out: list[list[dict]] = [[] for _ in jobs]
        for row in rows:  # a bulletin gives several rows, all with its key
            k, i = map(int, str(row["id"]).split(":"))
            row["id"] = jobs[k][0][i]
            out[k].append(row)
        for (_, _, future), results in zip(jobs, out):
            future.set_result(results)

    def _annotate(self, frame: pd.DataFrame, column: str) -> pd.DataFrame:
        if threading.current_thread().name.startswith("annotator"):
            return self.annotator.annotate(frame, column)
        return self.pool.submit(self.annotator.annotate, frame, column).result()

    def classify(self, ids: list[str], texts: list[str]) -> list[dict]:
        """Result rows as JSON-ready dicts (call it in ``pool``, or from any thread)."""
        out = self._annotate(pd.DataFrame({"id": ids, "text": texts}), "text")
        results = []
        for row in out.to_dict("records"):
            row = {k: _plain(v) for k, v in row.items()}
            missing = [m for m in str(row.get("缺失要素") or "").split("、") if m]
            clue = row.get("文本类型", "线索") == "线索" and not is_bulletin(normalize(str(row.get("text", ""))))
            row[QUESTIONS_FIELD] = questions(missing) if clue else []
            if self.base is not None:
                row["similar"] = self._similar(str(row.get("text", "")))
            results.append(row)
        return results

    def _similar(self, text: str) -> list[dict]:
        """Earlier reports of the same matter in the clue base (a connection per lookup: SQLite
        connections stay in the thread that opened them)."""
        from nlp.dedupe.base import ClueBase

        with ClueBase(self.base) as clue_base:
            return [{k: _plain(v) for k, v in m.items()} for m in clue_base.similar(text, k=5)]

    def classify_file(self, source: Path, target: Path, column: str, progress=None) -> int:
        """classify.py's batch job on an uploaded file (run it in a thread of its own), in chunks
        queued one at a time, so single clues interleave; ``progress(rows done)`` after each chunk."""
        from nlp.batch import check_chunk
        from nlp.io import TableWriter, read_chunks

        n = 0
        with TableWriter(target, highlight=(QUALITY, LOW)) as writer:
            for chunk in read_chunks(source, 500):
                check_chunk(chunk, column, Path(source.name))
                n += len(chunk.frame)
                if n > MAX_FILE_ROWS:
                    raise UserError(f"文件超过 {MAX_FILE_ROWS} 行。请拆分后上传，或用 classify.py 批量处理。")
                writer.write(self._annotate(chunk.frame, column))
                if progress is not None:
                    progress(n)
            if n == 0:
                raise UserError("文件只有表头，没有数据行。")
        return n

    # ---------------------------------------------------------------- labels
    def check_labels(self, text: str, labels: dict) -> dict[str, str]:
        """Labels as an officer saved them -> canonical cells; a Chinese message when wrong."""
        from nlp.corpus import validate_rows

        unknown = [k for k in labels if k not in self.taxonomy]
        if unknown:
            raise UserError(f"未知的标签列：{'、'.join(unknown)}。可用：{'、'.join(self.taxonomy.ids)}")
        clean = {s: self.taxonomy[s].canonical(str(labels.get(s) or "")) for s in self.taxonomy.ids}
        quality = clean.get(QUALITY, "")
        for s in self.taxonomy.schemes:  # a 低质 row has no categories, a 合格 row no 低质原因
            if s.applies_to not in ("all", quality) and quality in (GOOD, LOW):
                clean[s.id] = ""
        problems = validate_rows(pd.DataFrame([{"text": text, **clean}]), self.taxonomy)
        if problems:
            raise UserError("；".join(f"“{p.column}”{p.message}" for p in problems))
        return clean

    def taxonomy_json(self) -> dict:
        return {
            "version": self.taxonomy.version,
            "model_version": self.version,
            "elements": list(ELEMENT_FIELDS),
            "schemes": [{"id": s.id, "name": s.name, "kind": s.kind, "applies_to": s.applies_to,
                         "codes": [{"code": c.code, "name": c.name, "description": c.description}
                                   for c in s.codes]} for s in self.taxonomy.schemes],
        }
