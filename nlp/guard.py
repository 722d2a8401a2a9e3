"""Stage: hostile or broken input files, refused up front with a Chinese message.

Limits are data (nlp/data/limits.toml, overridable by a file named in ``JJJC_LIMITS``):
cell size, rows, columns, and what an XLSX/DOCX archive unpacks to (checked from the zip's
directory before any part is parsed, so a zip bomb never reaches the XML parser). A CSV is
scanned once before pandas reads it: decoded line by line (the first bad byte is named by
line and offset), parsed with a field-size limit (a 50 MB cell is refused without being held
whole), and counted (a header with no rows is refused). Messages name rows and columns,
never cell content.
"""

from __future__ import annotations

import csv
import errno
import os
import tomllib
import zipfile
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from nlp.encoding import Decoded, decode_lines
from nlp.errors import UserError
from nlp.segment import data_path


def limits() -> dict:
    return _limits(os.environ.get("JJJC_LIMITS", ""))


@lru_cache(maxsize=4)
def _limits(override: str) -> dict:
    values = tomllib.loads(data_path("limits.toml").read_text(encoding="utf-8"))
    if override:
        values.update(tomllib.loads(Path(override).read_text(encoding="utf-8")))
    return values


@dataclass
class ReadOptions:
    """How to read an input, and what reading it met (row numbers as Excel shows them)."""

    sheet: str | None = None
    encoding: str | None = None
    encoding_errors: str = "strict"
    replaced_rows: list[int] = field(default_factory=list)  # rows whose bad bytes became U+FFFD
    formula_cells: list[tuple[int, str]] = field(default_factory=list)  # (row, column): formula, no value

    def notes(self, column: str) -> list[str]:
        """Lines for the run's summary."""
        out = []
        formula_rows = [r for r, c in self.formula_cells if c == column]
        if self.replaced_rows:
            out.append(f"编码替换：{len(self.replaced_rows)} 行含无法解码的字节，已替换为 �（第 {rows_text(self.replaced_rows)} 行）。")
        if formula_rows:
            out.append(f"公式无值：“{column}”列 {len(formula_rows)} 个单元格是公式但文件里没有计算结果"
                       f"（第 {rows_text(formula_rows)} 行），已按空白处理；请在 Excel 中打开并保存后重试。")
        return out


def rows_text(rows: list[int], shown: int = 20) -> str:
    text = "、".join(str(r) for r in rows[:shown])
    return text + (f" 等 {len(rows)} 行" if len(rows) > shown else "")


def check_cell(value: str, row: int, column, path) -> None:
    cap = limits()["max_cell_chars"]
    if len(value) > cap:
        raise UserError(f"文件 {path} 第 {row} 行“{column}”列的单元格有 {len(value)} 个字符，超过上限 {cap}"
                        "（nlp/data/limits.toml 的 max_cell_chars）。请拆分或删减该单元格后重试。")


# ------------------------------------------------------------------ archives
def check_archive(path: str | Path, kind: str = "Excel 文件") -> None:
    """Refuse an XLSX/DOCX whose parts would unpack to too much, before anything is parsed."""
    lim = limits()
    try:
        with zipfile.ZipFile(path) as zf:
            parts = zf.infolist()
    except (zipfile.BadZipFile, OSError, ValueError):
        raise UserError(f"{kind} {path} 已损坏或格式不对，无法打开。请用 Office/WPS 打开后另存再试。") from None
    if len(parts) > lim["max_parts"]:
        raise UserError(f"{kind} {path} 含 {len(parts)} 个内部部件，超过上限 {lim['max_parts']}，疑似恶意文件，拒绝读取。")
    total = 0
    for p in parts:
        total += p.file_size
        ratio = p.file_size / max(p.compress_size, 1)
        if p.file_size > lim["max_part_bytes"] or (p.file_size > lim["ratio_min_bytes"] and ratio > lim["max_ratio"]):
            raise UserError(f"{kind} {path} 的内部部件解压后有 {p.file_size / 2**20:.0f} MB（压缩比 {ratio:.0f} 倍），"
                            "超出上限（nlp/data/limits.toml），疑似“压缩炸弹”，拒绝读取。")
    if total > lim["max_unzipped_bytes"]:
        raise UserError(f"{kind} {path} 解压后共 {total / 2**20:.0f} MB，超过上限 "
                        f"{lim['max_unzipped_bytes'] / 2**20:.0f} MB（nlp/data/limits.toml），拒绝读取。")


def check_sheet(ws, path) -> None:
    """Refuse a worksheet that declares more rows or columns than the limits, before reading it."""
    lim = limits()
    rows, cols = ws.max_row or 0, ws.max_column or 0
    if rows > lim["max_sheet_rows"] or cols > lim["max_sheet_columns"]:
        raise UserError(f"Excel 文件 {path} 的工作表声明了 {rows} 行 × {cols} 列，超过上限"
                        f"（{lim['max_sheet_rows']} 行 × {lim['max_sheet_columns']} 列），拒绝读取。")


def check_sheet_rows(n: int, path) -> None:
    raise UserError(f"Excel 文件 {path} 的工作表超过 {limits()['max_sheet_rows']} 行（含空行），拒绝读取。")


def check_columns(n: int, path) -> None:
    cap = limits()["max_columns"]
    if n > cap:
        raise UserError(f"输入文件 {path} 有 {n} 列，超过上限 {cap}（nlp/data/limits.toml 的 max_columns），拒绝读取。")


def check_rows(n: int, path) -> None:
    cap = limits()["max_rows"]
    if n > cap:
        raise UserError(f"输入文件 {path} 超过 {cap} 行数据（nlp/data/limits.toml 的 max_rows）。请拆分成几个文件。")


# ------------------------------------------------------------------ CSV
def scan_csv(path: Path, sep: str, decoded: Decoded, options: ReadOptions) -> None:
    """One pass over a CSV before pandas reads it: encoding, cell sizes, columns, rows."""
    lim = limits()
    old = csv.field_size_limit()
    csv.field_size_limit(lim["max_cell_chars"])
    decoded.max_line_bytes = lim["max_line_bytes"]
    reader = csv.reader(decode_lines(path, decoded), delimiter=sep)
    excel_row = 0  # the header is row 1
    rows = 0
    seen_bad = 0
    try:
        for record in reader:
            excel_row += 1
            check_columns(len(record), path)
            if excel_row > 1 and any(v.strip() for v in record):
                rows += 1
                if rows > lim["max_rows"]:
                    check_rows(rows, path)
            while seen_bad < len(decoded.replaced_lines) and decoded.replaced_lines[seen_bad] <= reader.line_num:
                if not options.replaced_rows or options.replaced_rows[-1] != excel_row:
                    options.replaced_rows.append(excel_row)
                seen_bad += 1
    except csv.Error as e:
        if "field larger" in str(e):
            raise UserError(f"文件 {path} 第 {excel_row + 1} 行有单元格超过 {lim['max_cell_chars']} 个字符"
                            "（nlp/data/limits.toml 的 max_cell_chars）。请拆分或删减该单元格后重试。") from None
        raise UserError(f"文件 {path} 第 {excel_row + 1} 行格式错误（引号不配对或含空字符），无法读取。") from None
    finally:
        csv.field_size_limit(old)
    if excel_row == 0:
        raise UserError(f"输入文件 {path} 没有表头和数据")
    if rows == 0:
        raise UserError(f"输入文件 {path} 只有表头，没有数据行。")


# ------------------------------------------------------------------ system errors
_OS_MESSAGES = {
    errno.ENOSPC: "磁盘空间不足",
    errno.EDQUOT: "磁盘配额已满",
    errno.EACCES: "没有权限",
    errno.EPERM: "没有权限",
    errno.EROFS: "位置是只读的",
    errno.ENOENT: "路径不存在",
    errno.ENOTDIR: "路径中有一段不是文件夹",
    errno.EISDIR: "这是一个文件夹",
    errno.EIO: "磁盘读写错误",
}


def os_error_text(e: OSError, output) -> str:
    """One Chinese line for a system error while reading input or writing output."""
    why = _OS_MESSAGES.get(e.errno, f"系统错误 {e.errno}")
    where = f"（{e.filename}）" if e.filename and not str(e.filename).endswith(".tmp") else ""
    target = f"，未写出 {output}" if output else ""
    return f"文件读写失败：{why}{where}{target}。请检查路径、权限和磁盘空间后重试。"
