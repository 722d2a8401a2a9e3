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


def test_outputs_follow_the_umask_and_the_key_stays_private(runner, trained, tmp_path):
    import os
    import stat

    from nlp.io import write_text_atomic

    src = tmp_path / "in.csv"
    pd.DataFrame({"text": ["某县住建局对违建投诉三个月不予处理"]}).to_csv(src, index=False)
    old = os.umask(0o022)
    try:
        for mask, mode in ((0o022, 0o644), (0o027, 0o640)):
            os.umask(mask)
            out = tmp_path / f"out{mask:o}.csv"
            assert run_classify(runner, src, "-o", out, "--models", trained).exit_code == 0
            assert stat.S_IMODE(out.stat().st_mode) == mode
        write_text_atomic(tmp_path / "secret.key", "k", private=True)
        assert stat.S_IMODE((tmp_path / "secret.key").stat().st_mode) == 0o600
    finally:
        os.umask(old)
