"""The batch job behind ``classify.py IN -o OUT``: read in chunks, label them in worker
processes (fork shares the loaded model), write as they come back, in input order, with
bounded memory; progress on stderr; the closing summary and, with ``--dedupe``, the repeat
columns (``nlp.dedupe.batch``).
"""

from __future__ import annotations

import collections
import itertools
import multiprocessing as mp
import sys
import time
from pathlib import Path
from typing import Optional

import typer

from nlp.cli_common import _say
from nlp.errors import UserError

_ANNOTATOR = None  # set in the parent before forking workers; each worker inherits it


def _work(frame, column, fmt=None, tally=None, dedupe: int = 0):
    """One chunk in a worker: labels, and (for text outputs) the rows already rendered and
    counted, so only a string and a few counts travel back to the parent. ``dedupe``: also the
    chunk's repeat-search details (1; 2: with the normalised texts, for the clue base)."""
    out = _ANNOTATOR.annotate(frame, column)
    if fmt is not None:
        from nlp.io import render_rows

        out = [str(c) for c in out.columns], render_rows(out, fmt), tally.count(out)
    if not dedupe:
        return out
    from nlp.dedupe.batch import details

    return out, details(frame[column].tolist(), with_norms=dedupe == 2)


class _Done:
    """A result computed in this process, read like a pool's AsyncResult."""

    def __init__(self, value):
        self.value = value

    def get(self):
        return self.value


def check_chunk(chunk, column: str, source: Path, by: tuple[str, ...] = ()) -> None:
    from nlp.inputs import columns_text
    from nlp.io import NonText

    cols = "、".join(str(c) for c in chunk.frame.columns)
    if column not in chunk.frame.columns:
        cols = columns_text(chunk.frame.columns)
        raise UserError(f"输入文件 {source} 没有“{column}”列。现有列：{cols}。请用 --column 指定文本所在的列。")
    for b in by:
        if b not in chunk.frame.columns:
            raise UserError(f"输入文件 {source} 没有“{b}”列，无法按它交叉统计（--by）。现有列：{cols}。")
    # Rows as Excel and WPS number them (the header is row 1); JSONL keeps its line numbers.
    first = 0 if str(source).lower().endswith((".jsonl", ".ndjson")) else 1
    bad = [n + first for n, v in zip(chunk.rows, chunk.frame[column]) if isinstance(v, NonText)]
    if bad:
        shown = "、".join(str(n) for n in bad[:10])
        raise UserError(f"“{column}”列第 {shown} 行{'等' if len(bad) > 10 else ''}不是文本（数字、日期或对象），"
                        f"共 {len(bad)} 行。请检查是否选错了列（--column），或把这些单元格改成文本。")


def _columns(annotator, chunk, column: Optional[str], said: set) -> tuple[str, dict]:
    """The text column (chosen automatically when not given) and new names for input columns an
    output column would repeat (质量 -> 原质量), each said once."""
    from nlp.inputs import choose_column, rename_collisions
    from nlp.pipeline import CASE_NO, KIND

    column, note = choose_column(chunk.frame.columns, column)
    if note and note not in said:
        said.add(note)
        _say(note)
    if not hasattr(annotator, "_output_columns"):
        annotator._output_columns = set(annotator.annotate_texts(["某县"]).columns) | {CASE_NO, KIND}
    rename = rename_collisions(chunk.frame.columns, annotator._output_columns)
    if rename:
        chunk.frame = chunk.frame.rename(columns=rename)
        note = "输入中与输出同名的列已改名：" + "、".join(f"“{a}”→“{b}”" for a, b in rename.items())
        if note not in said:
            said.add(note)
            _say(note)
    return rename.get(column, column), rename


def run_batch(annotator, source: Path, target: Path, column: Optional[str], workers: int, chunk_size: int,
           by: tuple[str, ...] = (), started: float | None = None, dedupe: bool = False,
           base: Optional[Path] = None, options=None) -> None:
    import pandas as pd
    from tqdm import tqdm

    from nlp.io import TableWriter, file_format, read_chunks
    from nlp.report import Tally
    from nlp.taxonomy import LOW, QUALITY

    global _ANNOTATOR
    _ANNOTATOR = annotator
    tax = annotator.model.taxonomy_
    tally = Tally(annotator.schemes, {s.id for s in tax.schemes if s.multi}, by)
    started = started or time.time()
    n_in = 0
    if column is None:  # chosen once from the header, so the repeat search and the layout know it
        column = _header_column(source, chunk_size, options)
    writer = TableWriter(target, highlight=(QUALITY, LOW), wide=(column,))
    bar = tqdm(unit="条", desc="分类", delay=2, file=sys.stderr, dynamic_ncols=True)
    pool = None
    repeats = _repeats(source, column, chunk_size, base, target) if dedupe else None
    try:
        with writer:
            chunks = read_chunks(source, chunk_size, options)
            said: set = set()
            pending: collections.deque = collections.deque()
            # 0: no repeat search; 1: repeat search; 2: also look each report up in the clue base
            search = 0 if repeats is None else 1 if repeats.base is None else 2

            def emit(item) -> None:
                """Write a frame, or (columns, rendered text) from a worker."""
                if isinstance(item, pd.DataFrame):
                    writer.write(item)
                else:
                    writer.write_rendered(*item)

            def put(res) -> None:
                """A classified chunk: written now, or held until the repeat columns are known."""
                if isinstance(res, pd.DataFrame):
                    res = repeats.collect(res) if repeats is not None else res
                    tally.add(res)
                else:
                    columns, text, counts = res
                    tally.merge(counts)
                    res = (columns, text)
                if repeats is not None:
                    repeats.hold(res)
                else:
                    emit(res)

            def drain(block: bool):
                while pending and (block or len(pending) >= 2 * max(workers, 1)):
                    rows_in, res = pending.popleft()
                    res = res.get()
                    if search:
                        res, found = res
                        repeats.take(found)
                    put(res)
                    bar.update(rows_in)

            # Workers render text rows themselves when every chunk has the same columns
            # (CSV and Excel inputs; JSONL lines may differ in their keys).
            fmt = writer.fmt if writer.renders_text and file_format(source) != "jsonl" else None
            fmt = None if search == 2 else fmt  # the labels go to the base
            first = next(chunks, None)
            second = next(chunks, None)
            if second is not None and workers > 1:
                # more than one chunk: worth the worker processes (fork shares the loaded model)
                annotator.warm_up()
                if repeats is not None:
                    repeats.warm_up()
                pool = mp.get_context("fork").Pool(workers)
            for chunk in itertools.chain([c for c in (first, second) if c is not None], chunks):
                column, _ = _columns(annotator, chunk, column, said)
                check_chunk(chunk, column, source, by)
                n_in += len(chunk.frame)
                frame = repeats.annotate(chunk) if repeats is not None else chunk.frame
                if pool is None:
                    pending.append((len(frame), _Done(_work(frame, column, fmt, tally, search))))
                else:
                    pending.append((len(frame), pool.apply_async(_work, (frame, column, fmt, tally, search))))
                drain(block=False)
            drain(block=True)
            if n_in == 0:
                raise UserError(f"输入文件 {source} 只有表头，没有数据行。")
            if repeats is not None:
                repeats.finish(workers if pool is not None else 1)
                for item in repeats.held(fmt):
                    emit(item)
            notes = options.notes(column) if options is not None else []
            writer.summary = tally.rows_for_table(tax) + [[note] for note in notes]
            writer.sheets = tally.cross_tables(tax)
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
        if repeats is not None:
            repeats.close()
    if repeats is not None and repeats.base is not None:
        added = repeats.store()
        _say(f"已存入线索库 {base}：新增 {added} 条，库中共 {len(repeats.base)} 条。")
    elapsed = max(time.time() - started, 1e-9)
    typer.echo(tally.render())
    if repeats is not None:
        typer.echo(repeats.summary())
    for note in notes:
        typer.echo(note)
    rate = n_in / elapsed
    typer.echo(f"已写入 {target}（输入 {n_in} 条，全程用时 {elapsed:.1f} 秒，含加载模型和读写文件；"
               f"{rate:.{0 if rate >= 10 else 1}f} 条/秒）。")


def _header_column(source: Path, chunk_size: int, options) -> Optional[str]:
    from nlp.inputs import choose_column
    from nlp.io import read_chunks

    import dataclasses

    peek = dataclasses.replace(options, replaced_rows=[], formula_cells=[]) if options is not None else None
    first = next(read_chunks(source, chunk_size, peek), None)  # its notes are not the run's
    if first is None:
        return None
    column, note = choose_column(first.frame.columns, None)
    if note:
        _say(note)
    return column


def _repeats(source: Path, column: str, chunk_size: int, base: Optional[Path], target: Path):
    from nlp.dedupe.base import ClueBase
    from nlp.dedupe.batch import BatchDedupe

    return BatchDedupe(source, column, chunk_size, ClueBase(base) if base is not None else None, target=target)

