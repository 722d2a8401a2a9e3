"""Labeling worksheets: an XLSX with drop-down lists of valid codes for every label column
(Excel data validation), which ``train.py --add`` reads back as it comes."""

from __future__ import annotations

import itertools
from pathlib import Path

import pandas as pd

from nlp.io import atomic_path, formula_risk
from nlp.taxonomy import Taxonomy


def _choices(scheme) -> list[str]:
    codes = scheme.code_list
    if not scheme.multi:
        return codes
    combos = []
    for k in range(1, len(codes) + 1):
        combos += ["|".join(c) for c in itertools.combinations(codes, k)]
    return combos[:200]


def write_worksheet(frame: pd.DataFrame, target: str | Path, taxonomy: Taxonomy, annotator=None) -> None:
    """``frame`` has id and text (and optional hint columns); label columns are added empty,
    with the model's suggestion beside them when an annotator is given."""
    import openpyxl
    from openpyxl.styles import Alignment, Font, PatternFill
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "待标注"
    codes_ws = wb.create_sheet("代码表")
    label_cols = taxonomy.ids
    hints = None
    if annotator is not None and len(frame):
        hints = annotator.annotate_texts(frame["text"].tolist())
    header = ["id", "text"] + label_cols + ["模型把握度", "模型建议"]
    ws.append(header)
    for c in ws[1]:
        c.font = Font(bold=True)
        c.fill = PatternFill("solid", fgColor="DDEBF7")
    for i, r in enumerate(frame.to_dict("records")):
        suggestion = ""
        if hints is not None:
            h = hints.iloc[i]
            suggestion = "；".join(f"{s}={h[s]}" for s in label_cols if s in hints.columns and h[s])
        ws.append([r["id"], r["text"]] + [""] * len(label_cols) + [r.get("模型把握度", ""), suggestion])
    for row in ws.iter_rows():  # a clue's text never becomes a live formula
        for c in row:
            if formula_risk(c.value):
                c.data_type = "s"
    n = max(len(frame), 1) + 1
    for j, sid in enumerate(label_cols):
        choices = _choices(taxonomy[sid])
        col = get_column_letter(j + 1)
        codes_ws.cell(row=1, column=j + 1, value=sid)
        for k, v in enumerate(choices, start=2):
            codes_ws.cell(row=k, column=j + 1, value=v)
        ref = f"代码表!${col}$2:${col}${len(choices) + 1}"
        dv = DataValidation(type="list", formula1=ref, allow_blank=True, showErrorMessage=True,
                            errorTitle="代码无效", error=f"请从下拉列表中选择{sid}的代码")
        ws.add_data_validation(dv)
        target_col = get_column_letter(3 + j)
        dv.add(f"{target_col}2:{target_col}{n + 500}")
    codes_ws.sheet_state = "hidden"
    ws.column_dimensions["B"].width = 80
    for row in ws.iter_rows(min_row=2, min_col=2, max_col=2):
        for c in row:
            c.alignment = Alignment(wrap_text=True, vertical="top")
    ws.freeze_panes = "C2"
    with atomic_path(target) as tmp:
        wb.save(tmp)
