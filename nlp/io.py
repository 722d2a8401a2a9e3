"""Stage: reading and writing. CSV (UTF-8 or GB18030, detected), XLSX and JSONL, streamed in chunks.

Readers yield ``Chunk`` objects (a DataFrame of string cells plus the 1-based row numbers of
the source file) so memory stays bounded on any file size. Writers write to a temporary file
beside the target and rename it into place only when everything succeeded: a failed run
never leaves a partial output behind.
"""

from __future__ import annotations

import csv
import datetime as _dt
import errno
import gc
import json
import math
import os
import sys
import tempfile
import traceback
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pandas as pd

from nlp import encoding, guard, tempfiles
from nlp.errors import UserError
from nlp.guard import ReadOptions
from nlp.normalize import replace_surrogates

FORMATS = {".csv": "csv", ".tsv": "tsv", ".xlsx": "xlsx", ".xlsm": "xlsx", ".jsonl": "jsonl",
           ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet", ".txt": "document", ".docx": "document"}
WRITABLE = ("csv", "tsv", "xlsx", "jsonl", "parquet")  # a .txt or .docx is read as one document, never written


def file_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix in (".xls", ".et", ".wps", ".doc"):
        raise UserError(f"不支持旧格式“{suffix}”：请在 Excel/WPS 中打开后“另存为” .xlsx（文档另存为 .docx）再试。")
    if suffix not in FORMATS:
        raise UserError(f"不支持的文件类型“{suffix or '无后缀'}”：请使用 .csv、.xlsx、.jsonl、.parquet，或通报文档 .txt、.docx")
    return FORMATS[suffix]


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


class NonText:
    """A cell that held a number, date or other non-text value."""

    def __init__(self, value):
        self.value = value

    def __str__(self) -> str:
        if isinstance(self.value, (_dt.date, _dt.datetime)):
            return self.value.isoformat()
        return str(self.value)


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


# ------------------------------------------------------------------ writers
@contextmanager
def atomic_path(target: str | Path, private: bool = False):
    """Yield a temporary path beside ``target``; rename it over ``target`` only on success.

    The temporary file is 0600 while it is written (it holds clue text); the finished file gets
    the mode the user's umask gives a new file (colleagues on a shared drive can open it), or
    stays 0600 when ``private`` (signing keys, review databases)."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tempfiles.remove_stale(target.parent)  # left by killed runs: they hold clue text
    fd, tmp = tempfile.mkstemp(prefix=tempfiles.prefix(target), suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600 if private else 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _umask() -> int:
    mask = os.umask(0o077)  # reading the umask means setting it; put it back at once
    os.umask(mask)
    return mask


def write_text_atomic(target: str | Path, text: str, private: bool = False) -> None:
    with atomic_path(target, private=private) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")


class TableWriter:
    """Streaming writer for CSV, XLSX or JSONL, chosen by the target's suffix.

    Use as a context manager; rows appear at the target only when the block exits cleanly.
    ``highlight`` (XLSX only) names a column and a value whose rows get a fill colour.
    """

    def __init__(self, target: str | Path, highlight: tuple[str, str] | None = None,
                 summary: list[list] | None = None, wide=(), sheet: str = "分类结果"):
        self.target = Path(target)
        self.fmt = file_format(self.target)
        if self.fmt not in WRITABLE:
            raise UserError(f"输出文件 {self.target.name} 的类型不能写出：请用 .csv、.xlsx、.jsonl 或 .parquet 作输出文件后缀。")
        self.highlight = highlight
        self.summary = summary
        self.sheets: dict[str, list[list]] = {}  # more small XLSX sheets after 汇总 (title -> rows)
        self.wide = wide  # XLSX: long-text columns, shown wide and wrapped
        self.sheet = sheet
        self.columns: list[str] | None = None

    def __enter__(self):
        self._ctx = atomic_path(self.target)
        self.tmp = self._ctx.__enter__()
        if self.fmt in ("csv", "tsv"):
            self._fh = open(self.tmp, "w", encoding="utf-8-sig", newline="")
        elif self.fmt == "jsonl":
            self._fh = open(self.tmp, "w", encoding="utf-8")
        elif self.fmt == "parquet":
            from nlp.parquet import ParquetSink

            self._sink = ParquetSink(Path(self.tmp))
        else:
            import openpyxl

            self._spool = tempfiles.private_tempdir(self.target)  # openpyxl's sheet files: private, here
            self._spool.__enter__()
            self._wb = openpyxl.Workbook(write_only=True)
            self._ws = self._wb.create_sheet(self.sheet)
        return self

    @property
    def renders_text(self) -> bool:
        """CSV, TSV and JSONL rows are plain text that ``render_rows`` can make anywhere (in a
        worker process, say) and ``write_rendered`` appends; XLSX rows go through ``write``."""
        return self.fmt not in ("xlsx", "parquet")

    def _begin(self, columns: list[str], sample: pd.DataFrame | None = None) -> None:
        if self.columns is not None:
            return
        self.columns = columns
        if self.fmt in ("csv", "tsv"):
            header = ["'" + c if formula_risk(c) else c for c in self.columns]
            pd.DataFrame(columns=header).to_csv(self._fh, index=False, lineterminator="\r\n",
                                                sep="\t" if self.fmt == "tsv" else ",")
        elif self.fmt == "xlsx":
            if len(self.columns) > XLSX_MAX_COLUMNS:
                raise UserError(f"输出有 {len(self.columns)} 列，超过 XLSX 的上限 {XLSX_MAX_COLUMNS:,} 列，"
                                "无法写成 .xlsx。请改用 .csv 输出，或删去不需要的列。")
            from nlp.ledger import SheetLayout

            # widths fitted to the first chunk; header frozen; autofilter set when closing
            self._layout = SheetLayout(self._ws, self.columns, sample, wide=self.wide)
            self._layout.header()

    def write(self, frame: pd.DataFrame) -> None:
        self._begin([str(c) for c in frame.columns], frame)
        frame = frame.reindex(columns=self.columns)
        if self.renders_text:
            self._fh.write(render_rows(frame, self.fmt))
            return
        if self.fmt == "parquet":  # typed columns, no spreadsheet: nothing to defuse
            self._sink.write(frame)
            return
        hcol, hval = self.highlight or (None, None)
        with _xml_errors():
            for r in frame.to_dict("records"):
                values = [_xlsx_value(r[c]) for c in self.columns]
                self._layout.append(values, marked=hcol is not None and r.get(hcol) == hval)

    def write_rendered(self, columns: list[str], text: str) -> None:
        """Append rows made by ``render_rows`` for a frame with these columns."""
        self._begin(columns)
        if not self.renders_text or columns != self.columns:
            raise ValueError("rendered rows do not match the output's format or columns")
        self._fh.write(text)

    def __exit__(self, exc_type, exc, tb):
        try:
            if self.fmt == "xlsx":
                if exc_type is not None:
                    try:  # close the write-only sheet cleanly; the temp file is removed below
                        self._wb.save(self.tmp)
                    except Exception as e:
                        self._release(e)
                if exc_type is None:
                    from nlp.ledger import write_sheet

                    if self.columns is None:
                        self._ws.append(["(无数据)"])
                    else:
                        self._layout.close()
                    with _xml_errors():
                        for title, rows in ({"汇总": self.summary or []} | self.sheets).items():
                            write_sheet(self._wb, title, rows)
                        self._wb.save(self.tmp)
            elif self.fmt == "parquet":
                self._sink.close(self.columns)
            else:
                self._fh.close()
        except BaseException as e:
            if self.fmt == "xlsx":
                self._release(e)
            self._ctx.__exit__(type(e), e, e.__traceback__)
            raise
        finally:
            if self.fmt == "xlsx":
                if exc is not None:
                    self._release(exc)
                self._spool.__exit__(None, None, None)
        return self._ctx.__exit__(exc_type, exc, tb)

    def _release(self, failure: BaseException) -> None:
        """After a failed XLSX write (a full disk), close openpyxl's half-written streams now and
        quietly: left to the garbage collector they print tracebacks after our one-line message."""
        hook = sys.unraisablehook
        sys.unraisablehook = lambda *_: None
        try:
            for e in (failure, failure.__context__):
                if e is not None and e.__traceback__ is not None:
                    traceback.clear_frames(e.__traceback__)
            self._wb = self._ws = None
            gc.collect()
        finally:
            sys.unraisablehook = hook


XLSX_MAX_COLUMNS = 16_384


@contextmanager
def _xml_errors():
    """lxml reports a failed write (a full disk) as SerialisationError('IO_ENOSPC'): make it an OSError."""
    try:
        yield
    except Exception as e:
        if type(e).__name__ != "SerialisationError":
            raise
        raise OSError(errno.ENOSPC if "ENOSPC" in str(e) else errno.EIO, str(e)) from None


FORMULA_START = ("=", "+", "-", "@")  # what Excel/WPS read as the start of a formula


def formula_risk(value) -> bool:
    """A string a spreadsheet would run as a formula (also after leading blanks, tab or CR)."""
    return isinstance(value, str) and value.lstrip(" \t\r\n").startswith(FORMULA_START)


def defuse_csv(frame: pd.DataFrame) -> pd.DataFrame:
    """OWASP's advice for CSV: a leading ' before any cell that would start a formula."""
    out = None
    for c in frame.columns:
        col = frame[c]
        if not (col.dtype == object or pd.api.types.is_string_dtype(col)):
            continue
        risky = col.map(formula_risk).astype(bool)
        if risky.any():
            out = frame.copy() if out is None else out
            out[c] = col.where(~risky, "'" + col.astype(str))
    return frame if out is None else out


def render_rows(frame: pd.DataFrame, fmt: str) -> str:
    """The text of ``frame``'s rows (no header) in a text format: csv, tsv or jsonl."""
    if fmt in ("csv", "tsv"):
        frame = defuse_csv(frame)
        return frame.to_csv(None, header=False, index=False, sep="\t" if fmt == "tsv" else ",",
                            lineterminator="\r\n", na_rep="")
    columns = [str(c) for c in frame.columns]
    return "".join(json.dumps({c: _json_value(v) for c, v in zip(columns, row)}, ensure_ascii=False) + "\n"
                   for row in frame.itertuples(index=False, name=None))


def _json_value(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if hasattr(v, "item"):
        return v.item()
    if isinstance(v, NonText):
        return str(v)
    return v


_ILLEGAL_XLSX = dict.fromkeys(list(range(0, 9)) + [11, 12] + list(range(14, 32)))


def _xlsx_value(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if hasattr(v, "item"):
        return v.item()
    s = str(v) if isinstance(v, NonText) else v
    if isinstance(s, str):
        s = s.translate(_ILLEGAL_XLSX)
        if len(s) > 32767:  # Excel's limit for one cell
            s = s[:32760] + "……"
    return s
