"""Parquet in and out (pyarrow), streamed by row group so memory stays flat in file size.

Reading yields the same ``Chunk`` objects as the CSV/XLSX/JSONL readers (string cells); writing
keeps one schema for the whole file: input columns and codes as strings, 质量分 as an integer,
confidences as floating point.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pandas as pd

from nlp.errors import UserError


def read_parquet_chunks(path: Path, chunk_size: int, make_chunk) -> Iterator:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as e:
        raise UserError(f"文件 {path} 不是有效的 Parquet 文件或已损坏（{type(e).__name__}）。") from None
    if pf.metadata.num_rows == 0:
        raise UserError(f"输入文件 {path} 没有数据行。")
    done = 0
    try:
        for batch in pf.iter_batches(batch_size=chunk_size):
            frame = batch.to_pandas()
            for c in frame.columns:
                if frame[c].dtype != object:
                    frame[c] = frame[c].astype(str).where(frame[c].notna(), "")
                else:
                    frame[c] = frame[c].where(frame[c].notna(), "")
            frame.columns = [str(c).strip() for c in frame.columns]
            yield make_chunk(frame, list(range(done + 1, done + len(frame) + 1)))
            done += len(frame)
    except (pa.ArrowInvalid, OSError) as e:
        raise UserError(f"Parquet 文件 {path} 第 {done + 1} 行之后的数据块已损坏（{type(e).__name__}）。") from None


def arrow_schema(frame: pd.DataFrame):
    """Strings for every column but integers (质量分) and floats (置信度)."""
    import pyarrow as pa

    fields = []
    for c in frame.columns:
        kind = frame[c].dtype.kind
        typ = pa.int64() if kind in "iu" else pa.float64() if kind == "f" else pa.string()
        fields.append(pa.field(str(c), typ))
    return pa.schema(fields)


def to_arrow(frame: pd.DataFrame, schema):
    import pyarrow as pa

    cols = {}
    for f in schema:
        s = frame[f.name] if f.name in frame.columns else pd.Series([None] * len(frame))
        if pa.types.is_string(f.type):
            cols[f.name] = pa.array([None if v is None or (isinstance(v, float) and v != v) else str(v)
                                     for v in s.tolist()], type=pa.string())
        else:
            cols[f.name] = pa.array(pd.to_numeric(s, errors="coerce"), type=f.type, from_pandas=True)
    return pa.Table.from_pydict(cols, schema=schema)


class ParquetSink:
    """Appends frames to one Parquet file as row groups; the schema is fixed by the first frame."""

    def __init__(self, path: Path):
        self.path = path
        self.schema = None
        self._writer = None

    def write(self, frame: pd.DataFrame) -> None:
        import pyarrow.parquet as pq

        if self._writer is None:
            self.schema = arrow_schema(frame)
            self._writer = pq.ParquetWriter(self.path, self.schema, compression="zstd")
        self._writer.write_table(to_arrow(frame, self.schema))

    def close(self, columns: list[str] | None = None) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self._writer is None:  # no rows: an empty file with the header columns
            schema = pa.schema([pa.field(c, pa.string()) for c in (columns or ["(无数据)"])])
            pq.write_table(schema.empty_table(), self.path)
            return
        self._writer.close()
