"""Stage: writing. CSV, TSV, XLSX, JSONL and Parquet, streamed; atomic (a temporary file beside
the target, renamed into place only when everything succeeded: a failed run never leaves a
partial output behind); following the user's umask; no clue text ever a live formula.
"""

from __future__ import annotations

import errno
import gc
import json
import math
import os
import sys
import tempfile
import traceback
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from nlp import tempfiles
from nlp.errors import UserError
from nlp.formats import WRITABLE, NonText, file_format

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
