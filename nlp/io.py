"""Stage: reading (writing is ``nlp.writers``). CSV (UTF-8 or GB18030, detected), XLSX and JSONL, streamed in chunks.

Readers yield ``Chunk`` objects (a DataFrame of string cells plus the 1-based row numbers of
the source file) so memory stays bounded on any file size. Writers write to a temporary file
beside the target and rename it into place only when everything succeeded: a failed run
never leaves a partial output behind.
"""

from __future__ import annotations

import csv
import json
import math
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pandas as pd

from nlp import encoding, guard
from nlp.errors import UserError
from nlp.formats import FORMATS, WRITABLE, NonText, file_format  # noqa: F401
from nlp.guard import ReadOptions
from nlp.normalize import replace_surrogates

@dataclass
class Chunk:
    frame: pd.DataFrame  # string cells, original column order
    rows: list[int]  # 1-based data row numbers in the source file (header not counted)


# ----------------------------------------------------------------- encoding
def detect_encoding(path: str | Path, options: ReadOptions | None = None) -> str:
    """The user's --encoding, else UTF-8, GB18030 or Big5 as detected (nlp/encoding.py)."""
    if options is not None and options.encoding:
        return encoding.check_name(options.encoding)
    return encoding.detect(path)


# ------------------------------------------------------------------ readers
def read_chunks(path: str | Path, chunk_size: int = 2000, options: ReadOptions | None = None) -> Iterator[Chunk]:
    """Stream a table file as chunks of string cells."""
    path = Path(path)
    options = options or ReadOptions()
    if chunk_size < 1:
        raise UserError(f"--chunk-size 须为正整数（收到 {chunk_size}）")
    if not path.exists():
        raise UserError(f"找不到输入文件：{path}")
    if path.stat().st_size == 0:
        raise UserError(f"输入文件 {path} 是空文件")
    fmt = file_format(path)
    if fmt in ("csv", "tsv"):
        yield from _read_csv(path, chunk_size, "\t" if fmt == "tsv" else None, options)
    elif fmt == "xlsx":
        yield from _read_xlsx(path, chunk_size, options)
    elif fmt == "document":
        from nlp.inputs import read_document

        yield Chunk(read_document(path, options), [1])
    elif fmt == "parquet":
        from nlp.parquet import read_parquet_chunks

        yield from read_parquet_chunks(path, chunk_size, Chunk)
    else:
        yield from _read_jsonl(path, chunk_size, options)


def _read_csv(path: Path, chunk_size: int, sep: str | None, options: ReadOptions) -> Iterator[Chunk]:
    enc = detect_encoding(path, options)
    if sep is None:
        with path.open("r", encoding=enc, errors="replace", newline="") as fh:
            head = fh.read(64 * 1024)
        try:
            sep = csv.Sniffer().sniff(head.split("\n", 1)[0], delimiters=",\t;").delimiter
        except csv.Error:
            sep = ","
    guard.scan_csv(path, sep, encoding.Decoded(enc, options.encoding_errors), options)
    done = 0
    try:
        reader = pd.read_csv(path, encoding=enc, sep=sep, dtype=str, keep_default_na=False,
                             chunksize=chunk_size, engine="c", on_bad_lines="error",
                             encoding_errors=options.encoding_errors)
        for frame in reader:
            if frame.empty:
                continue
            frame.columns = [str(c).strip() for c in frame.columns]
            yield Chunk(frame, list(range(done + 1, done + len(frame) + 1)))
            done += len(frame)
    except UnicodeDecodeError:
        raise UserError(f"文件 {path} 第 {done + 1} 行附近有无法按 {enc} 解码的字节：文件编码混杂或已损坏。"
                        "请另存为 UTF-8 编码的 CSV 后重试。") from None
    except pd.errors.EmptyDataError:
        raise UserError(f"输入文件 {path} 没有表头和数据") from None
    except pd.errors.ParserError:
        raise UserError(f"文件 {path} 第 {done + 1} 行之后格式错误（引号不配对或列数不一致）。") from None


def _cell(v) -> str | object:
    if v is None:
        return ""
    if isinstance(v, float) and math.isnan(v):
        return ""
    if isinstance(v, str):
        return replace_surrogates(v)  # a JSON "\udc80" cannot be written out again
    return NonText(v)


def _read_xlsx(path: Path, chunk_size: int, options: ReadOptions) -> Iterator[Chunk]:
    guard.check_archive(path)
    try:
        import openpyxl

        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as e:
        raise UserError(f"Excel 文件 {path} 已损坏或不是 .xlsx 格式，无法打开（{type(e).__name__}）。"
                        "请用 Excel 打开后另存为 .xlsx 再试。") from None
    except Exception as e:
        raise UserError(f"Excel 文件 {path} 无法打开：{e}") from None
    from nlp.inputs import formula_rows, pick_sheet

    try:
        ws = pick_sheet(wb, options.sheet, path)
        guard.check_sheet(ws, path)
        ws.reset_dimensions()  # rows as stored: a false <dimension> must not pad millions of cells
        it = formula_rows(path, ws, options)
        header = next(it, None)
        if header is None or all(v is None for v in header):
            raise UserError(f"Excel 文件 {path} 的工作表“{ws.title}”是空的（第一行应是表头）")
        guard.check_columns(len(header), path)
        columns = [str(h).strip() if h is not None else f"列{i + 1}" for i, h in enumerate(header)]
        buf: list[list] = []
        nums: list[int] = []
        n = 0
        for row in it:
            n += 1
            if n > guard.limits()["max_sheet_rows"]:
                guard.check_sheet_rows(n, path)
            if row is None or all(v is None for v in row):
                continue
            cells = [_cell(v) for v in row[: len(columns)]]
            for v, c in zip(cells, columns):
                if isinstance(v, str):
                    guard.check_cell(v, n + 1, c, path)
            cells += [""] * (len(columns) - len(cells))
            buf.append(cells)
            nums.append(n)
            if len(buf) >= chunk_size:
                yield Chunk(pd.DataFrame(buf, columns=columns, dtype=object), nums)
                buf, nums = [], []
        if buf:
            yield Chunk(pd.DataFrame(buf, columns=columns, dtype=object), nums)
    except UserError:
        raise
    except Exception as e:
        raise UserError(f"读取 Excel 文件 {path} 时出错（{type(e).__name__}）：文件可能已损坏") from None
    finally:
        wb.close()


def _read_jsonl(path: Path, chunk_size: int, options: ReadOptions) -> Iterator[Chunk]:
    enc = detect_encoding(path, options)
    buf: list[dict] = []
    nums: list[int] = []
    decoded = encoding.Decoded(enc, options.encoding_errors, guard.limits()["max_line_bytes"])
    n = 0
    for line in encoding.decode_lines(path, decoded):
        n += 1
        if decoded.replaced_lines and decoded.replaced_lines[-1] == n:
            options.replaced_rows.append(n)
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise UserError(f"JSONL 文件 {path} 第 {n} 行不是合法的 JSON：{e.msg}") from None
        except RecursionError:
            raise UserError(f"JSONL 文件 {path} 第 {n} 行嵌套层数过深，无法读取。") from None
        except ValueError:  # e.g. an integer of thousands of digits
            raise UserError(f"JSONL 文件 {path} 第 {n} 行含超长数字，无法读取。") from None
        if not isinstance(obj, dict):
            raise UserError(f"JSONL 文件 {path} 第 {n} 行应是一个 JSON 对象（{{...}}）")
        guard.check_columns(len(obj), path)
        row = {str(k): _cell(v) for k, v in obj.items()}
        for k, v in row.items():
            if isinstance(v, str):
                guard.check_cell(v, n, k, path)
        buf.append(row)
        nums.append(n)
        if len(buf) >= chunk_size:
            yield Chunk(pd.DataFrame(buf, dtype=object).fillna(""), nums)
            buf, nums = [], []
    if buf:
        yield Chunk(pd.DataFrame(buf, dtype=object).fillna(""), nums)


def read_table(path: str | Path) -> pd.DataFrame:
    """Whole (small) table, e.g. labeled rows to add to the corpus."""
    frames = [c.frame for c in read_chunks(path, chunk_size=50_000)]
    if not frames:
        raise UserError(f"文件 {path} 只有表头，没有数据行")
    df = pd.concat(frames, ignore_index=True)
    return df.map(lambda v: str(v) if isinstance(v, NonText) else v).fillna("")


# The writers live in nlp.writers; importing them from here keeps `from nlp.io import TableWriter` working.
from nlp.writers import (  # noqa: E402,F401
    FORMULA_START, TableWriter, atomic_path, defuse_csv, formula_risk, render_rows, write_text_atomic,
)
