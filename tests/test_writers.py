"""Text from a clue never becomes a live formula in Excel/WPS: through the CLI a user calls."""

from __future__ import annotations

import openpyxl
import pandas as pd

from conftest import run_classify

HOSTILE = ['=HYPERLINK("http://x","点我")', "=cmd|' /C calc'!A0", "+1", "@SUM(A1)", "\t=1+1", "-2+3",
           "某县住建局对违建投诉三个月不予处理"]


def test_no_live_formula_in_xlsx_or_csv(runner, trained, tmp_path):
    src = tmp_path / "in.csv"
    pd.DataFrame({"=来源": HOSTILE, "text": HOSTILE}).to_csv(src, index=False)
    xlsx, csv = tmp_path / "out.xlsx", tmp_path / "out.csv"
    for out in (xlsx, csv):
        r = run_classify(runner, src, "-o", out, "--models", trained)
        assert r.exit_code == 0, r.output
    wb = openpyxl.load_workbook(xlsx)
    values = []
    for ws in wb.worksheets:
        for row in ws.iter_rows():
            for c in row:
                assert c.data_type != "f", (ws.title, c.coordinate, c.value)
                values.append(c.value)
    assert all(t in values for t in HOSTILE) and "=来源" in values
    text = csv.read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in text and "'@SUM(A1)" in text and "'+1" in text and "'=来源" in text
