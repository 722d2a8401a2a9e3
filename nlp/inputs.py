"""Stage: what an input file holds. The sheet to read, the text column, 通报 documents (.txt, .docx),
formula cells with no value, and input columns that share a name with an output column.

Messages name sheets, rows and columns; a header that looks like a clue (a CSV without a
header row) is never echoed, since its "column names" are the first clue's text.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path
from typing import Iterator

import pandas as pd

from nlp import encoding, guard
from nlp.errors import UserError
from nlp.guard import ReadOptions

# Looked for, in this order, when --column is not given.
TEXT_COLUMNS = ("text", "线索内容", "反映内容", "问题描述", "内容")
ORIGINAL = "原"  # prefix for an input column whose name an output column takes
_SENTENCE = re.compile(r"[，。；！？、]|\d{4}年")


def columns_text(columns) -> str:
    """The input's column names for a message, unless they look like data (no header row)."""
    names = [str(c) for c in columns]
    if any(len(n) > 30 or _SENTENCE.search(n) for n in names):
        return "（第一行看起来是数据而不是表头：请确认文件第一行是列名）"
    shown = "、".join(names[:30])
    return shown + (f" 等 {len(names)} 列" if len(names) > 30 else "")


def choose_column(columns, given: str | None) -> tuple[str, str | None]:
    """The text column: the one given, else the first of TEXT_COLUMNS present (and a line saying so)."""
    names = [str(c) for c in columns]
    if given:
        return given, None
    for name in TEXT_COLUMNS:
        if name in names:
            note = None if name == "text" else f"文本列：未指定 --column，使用“{name}”列。"
            return name, note
    raise UserError(f"找不到文本列（{'、'.join(TEXT_COLUMNS)} 都没有）。现有列：{columns_text(names)}。"
                    "请用 --column 指定文本所在的列。")


def rename_collisions(columns, reserved: set[str]) -> dict[str, str]:
    """New names for input columns that an output column would repeat: 质量 -> 原质量."""
    taken = {str(c) for c in columns} | set(reserved)
    out = {}
    for c in columns:
        if str(c) in reserved:
            new = ORIGINAL + str(c)
            while new in taken:
                new = ORIGINAL + new
            taken.add(new)
            out[c] = new
    return out


# ------------------------------------------------------------------ workbooks
def pick_sheet(wb, name: str | None, path):
    if name is None:
        return wb.worksheets[0]
    if name in wb.sheetnames:
        return wb[name]
    names = "、".join(wb.sheetnames[:20])
    raise UserError(f"Excel 文件 {path} 没有名为“{name}”的工作表。现有工作表：{names}。")


_FORMULA = re.compile(rb"<(?:\w+:)?f[\s>/]")


def _has_formulas(path, part: str | None) -> bool:
    if not part:
        return True
    with zipfile.ZipFile(path) as zf, zf.open(part.lstrip("/")) as fh:
        tail = b""
        while block := fh.read(1 << 20):
            if _FORMULA.search(tail + block):
                return True
            tail = block[-16:]
    return False


def formula_rows(path, ws, options: ReadOptions) -> Iterator[tuple]:
    """The sheet's rows as values (header first). A formula cell saved without its value (made by
    a program, never opened in Excel) reads as blank; its row and column are noted in ``options``."""
    values = ws.iter_rows(values_only=True)
    if not _has_formulas(path, getattr(ws, "_worksheet_path", None)):
        yield from values
        return
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        other = wb[ws.title]
        other.reset_dimensions()
        header = None
        for number, (row, raw) in enumerate(zip(values, other.iter_rows(values_only=True)), start=1):
            if header is None:
                header = [str(h).strip() if h is not None else f"列{i + 1}" for i, h in enumerate(row)]
            else:
                for i, (v, f) in enumerate(zip(row, raw)):
                    if v is None and isinstance(f, str) and f.startswith("=") and i < len(header):
                        options.formula_cells.append((number, header[i]))
            yield row
    finally:
        wb.close()


# ------------------------------------------------------------------ documents
def read_document(path: Path, options: ReadOptions) -> pd.DataFrame:
    """A .txt or .docx 通报 as one row (id = file name); classify splits it into its cases."""
    if path.suffix.lower() == ".docx":
        text = _docx_text(path)
    else:
        enc = encoding.check_name(options.encoding) if options.encoding else encoding.detect(path)
        decoded = encoding.Decoded(enc, options.encoding_errors, guard.limits()["max_line_bytes"])
        text = "".join(encoding.decode_lines(path, decoded))
        options.replaced_rows.extend(decoded.replaced_lines)
    if not text.strip():
        raise UserError(f"文档 {path} 没有文字内容")
    guard.check_cell(text, 1, "text", path)
    return pd.DataFrame({"id": [path.stem], "text": [text]}, dtype=object)


def _docx_text(path: Path) -> str:
    guard.check_archive(path, "Word 文件")
    try:
        import docx

        doc = docx.Document(str(path))
        lines = [p.text for p in doc.paragraphs]
        for table in doc.tables:
            for row in table.rows:
                lines.append("；".join(c.text for c in row.cells if c.text.strip()))
    except Exception as e:
        raise UserError(f"Word 文件 {path} 已损坏或不是 .docx 格式（{type(e).__name__}）。请用 Word/WPS 另存为 .docx 再试。") from None
    return "\n".join(line for line in lines if line.strip())
