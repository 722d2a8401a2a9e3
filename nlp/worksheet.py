"""Labeling worksheets: an XLSX with drop-down lists of every label column (codes with their
names, Excel data validation), the model's suggestion pre-filled, an 已核对 column the person
fills, and every input column kept. ``train.py --add`` reads it back as it comes: only rows
marked 已核对 join the corpus, and the names in the cells are read as codes."""

from __future__ import annotations

import itertools
from pathlib import Path

import pandas as pd

from nlp.io import atomic_path, formula_risk
from nlp.taxonomy import MULTI_SEP, Taxonomy

REVIEWED, REVIEWER, CONFIDENCE = "已核对", "核对人", "模型把握度"


def _choices(scheme) -> list[str]:
    labels = [scheme.label(c) for c in scheme.code_list]
    if not scheme.multi:
        return labels
    combos = []
    for k in range(1, len(labels) + 1):
        combos += [MULTI_SEP.join(c) for c in itertools.combinations(labels, k)]
    return combos[:200]


def _labels(scheme, value: str) -> str:
    return MULTI_SEP.join(scheme.label(c) for c in scheme.parse(value))


def write_worksheet(frame: pd.DataFrame, target: str | Path, taxonomy: Taxonomy, annotator=None) -> None:
    """``frame``: the chosen input rows (an ``id`` and a ``text`` column, any others kept as they
    are, optionally 模型把握度). Label columns follow the input columns, pre-filled with the model's
    labels when an annotator is given; then 已核对 (是/否), 核对人 and 模型把握度."""
    from openpyxl.utils import get_column_letter

    from nlp.ledger import drop_down, editable_workbook

    label_cols = taxonomy.ids
    ours = set(label_cols) | {REVIEWED, REVIEWER, CONFIDENCE}
    inputs = [c for c in frame.columns if c not in ours]
    out = frame[inputs].copy()
    hints = annotator.annotate_texts(frame["text"].tolist()) if annotator is not None and len(frame) else None
    for sid in label_cols:
        scheme = taxonomy[sid]
        out[sid] = [_labels(scheme, v) for v in hints[sid]] if hints is not None and sid in hints else ""
    out[REVIEWED] = ""
    out[REVIEWER] = ""
    out[CONFIDENCE] = frame[CONFIDENCE] if CONFIDENCE in frame.columns else None

    wb, ws, columns = editable_workbook("待标注", out)

    codes_ws = wb.create_sheet("代码表")
    last = len(out) + 501  # room for rows a person adds below
    for j, sid in enumerate(label_cols):
        choices = _choices(taxonomy[sid])
        col = get_column_letter(j + 1)
        codes_ws.cell(row=1, column=j + 1, value=sid)
        for k, v in enumerate(choices, start=2):
            cell = codes_ws.cell(row=k, column=j + 1, value=v)
            if formula_risk(v):  # a user scheme's name is text too
                cell.data_type = "s"
        drop_down(ws, f"代码表!${col}$2:${col}${len(choices) + 1}", columns.index(sid), last,
                  f"请从下拉列表中选择{sid}（代码或名称均可）")
    drop_down(ws, '"是,否"', columns.index(REVIEWED), last, "核对过的行填“是”")
    codes_ws.sheet_state = "hidden"
    with atomic_path(target) as tmp:
        wb.save(tmp)
