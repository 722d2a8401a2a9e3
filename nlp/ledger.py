"""XLSX as an office's 台账: fitted column widths, a frozen header row, an autofilter, confidences
shown as percentages, wrapped long text, and small summary sheets (汇总, cross-tabs by a column).

Everything here works on openpyxl's write-only worksheets, so a 100,000-row output streams with
flat memory: column widths are fitted on the first chunk, before the first row is written.
Every cell that a spreadsheet would read as a formula is written as a text cell.
"""

from __future__ import annotations

import copy
import re
import unicodedata

import pandas as pd

from nlp.io import formula_risk

PERCENT_SUFFIXES = ("置信度", "把握度", "概率", "占比")
MIN_WIDTH, MAX_WIDTH, TEXT_WIDTH = 6, 40, 60
HEADER_FILL = "DDEBF7"
MARK_FILL = "FFF2CC"


def display_width(value) -> int:
    """Columns a value takes on screen: CJK and full-width characters count two."""
    s = "" if value is None else str(value)
    first_line = s.split("\n", 1)[0]
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in first_line[:200])


def is_percent(column: str) -> bool:
    return str(column).endswith(PERCENT_SUFFIXES)


class SheetLayout:
    """Widths, frozen header, styles and autofilter of one write-only worksheet.

    ``sample``: the first rows to be written (widths are fitted to them); ``wide``: text columns
    shown wide and wrapped. ``append(values, marked=True)`` gives a row a fill colour."""

    def __init__(self, ws, columns: list[str], sample: pd.DataFrame | None = None, wide=()):
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.styles import Alignment, Font, PatternFill
        from openpyxl.utils import get_column_letter

        self.ws, self.columns, self.rows = ws, list(columns), 0
        self.letters = [get_column_letter(i + 1) for i in range(len(self.columns))]
        wide = {str(c) for c in wide}
        fill = PatternFill("solid", fgColor=MARK_FILL)
        self._plain: list = []  # per column: style of a normal cell (None: no style needed)
        self._marked: list = []  # per column: style of a cell in a marked row
        for j, col in enumerate(self.columns):
            width = self._width(col, sample, col in wide)
            ws.column_dimensions[self.letters[j]].width = width
            cell = WriteOnlyCell(ws)
            styled = False
            if is_percent(col):
                cell.number_format = "0%"
                styled = True
            if col in wide or width >= MAX_WIDTH:
                cell.alignment = Alignment(wrap_text=True, vertical="top")
                styled = True
            self._plain.append(copy.copy(cell._style) if styled else None)
            cell.fill = fill
            self._marked.append(copy.copy(cell._style))
        header = WriteOnlyCell(ws)
        header.font = Font(bold=True)
        header.fill = PatternFill("solid", fgColor=HEADER_FILL)
        header.alignment = Alignment(vertical="center")
        self._header_style = header._style
        ws.freeze_panes = "A2"

    @staticmethod
    def _width(col: str, sample: pd.DataFrame | None, wide: bool) -> float:
        if wide:
            return TEXT_WIDTH
        widths = [display_width(col)]
        if sample is not None and col in sample.columns:
            values = sample[col].head(500)
            if is_percent(col):
                widths.append(5)
            else:
                widths += [display_width(v) for v in values]
        return float(min(max(max(widths) + 2, MIN_WIDTH), MAX_WIDTH))

    def _cell(self, value, style):
        from openpyxl.cell import WriteOnlyCell

        c = WriteOnlyCell(self.ws, value=value)
        if style is not None:
            c._style = copy.copy(style)
        if formula_risk(value):
            c.data_type = "s"  # text, never a live formula
        return c

    def header(self) -> None:
        self.ws.append([self._cell(str(c), self._header_style) for c in self.columns])

    def append(self, values: list, marked: bool = False) -> None:
        styles = self._marked if marked else self._plain
        row = [self._cell(v, s) if (s is not None or formula_risk(v)) else v for v, s in zip(values, styles)]
        self.ws.append(row)
        self.rows += 1

    def close(self) -> None:
        """The autofilter over the header and every written row."""
        if self.columns:
            self.ws.auto_filter.ref = f"A1:{self.letters[-1]}{self.rows + 1}"


def write_frame(ws, frame: pd.DataFrame, wide=()) -> list[str]:
    """``frame`` as a formatted table on an empty sheet; returns its column names."""
    columns = [str(c) for c in frame.columns]
    layout = SheetLayout(ws, columns, frame.set_axis(columns, axis=1), wide=wide)
    layout.header()
    for row in frame.itertuples(index=False, name=None):
        layout.append(list(row))
    layout.close()
    return columns


def write_sheet(wb, title: str, rows: list[list], wide=()) -> None:
    """A small table (header first) as a formatted sheet of a write-only workbook."""
    if rows:
        header = [str(c) for c in rows[0]]
        body = pd.DataFrame([list(r) + [None] * (len(header) - len(r)) for r in rows[1:]], columns=header)
        write_frame(wb.create_sheet(sheet_title(title, wb.sheetnames)), body, wide)


def sheet_title(name: str, taken=()) -> str:
    """A valid, unused sheet name: Excel allows 31 characters and none of []:*?/\\."""
    base = re.sub(r"[\[\]:*?/\\]", "_", str(name))[:31] or "表"
    title, n = base, 1
    while title in taken:
        n += 1
        title = f"{base[:28]}_{n}"
    return title


def editable_workbook(title: str, frame: pd.DataFrame, wide=("text",)):
    """A workbook a person fills in (worksheets, review sheets): ``frame`` formatted on its first
    sheet. Returns (workbook, sheet, columns)."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    return wb, ws, write_frame(ws, frame, wide)


def drop_down(ws, formula: str, index: int, last: int, error: str | None = None) -> None:
    """A list validation on column ``index`` (0-based), rows 2..last; with ``error`` other values
    are refused with that message, without it they are allowed (typed conclusions)."""
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    dv = DataValidation(type="list", formula1=formula, allow_blank=True, showErrorMessage=error is not None,
                        errorTitle="取值无效" if error else None, error=error)
    ws.add_data_validation(dv)
    col = get_column_letter(index + 1)
    dv.add(f"{col}2:{col}{last}")
