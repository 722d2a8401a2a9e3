"""What an input holds, through classify.py: sheets, the text column, 通报 documents, old formats,
output types, input columns named like output columns, formula cells with no value, encodings."""

from __future__ import annotations

import random

import openpyxl
import pandas as pd
from conftest import run_classify
from opencc import OpenCC

from bench import hostile

CLUE = hostile.CLUE


def _ok(r):
    assert r.exit_code == 0, r.output
    return r


def _refused(r, *words):
    assert r.exit_code != 0 and isinstance(r.exception, SystemExit), r.output
    assert "Traceback" not in r.output and "错误：" in r.output, r.output
    for w in words:
        assert w in r.output, r.output
    return r


def test_sheet_by_name_and_automatic_text_column(runner, trained, tmp_path):
    wb = openpyxl.Workbook()
    wb.active.title = "说明"
    wb.active.append(["本表为某县2024年第一季度问题线索"])
    ws = wb.create_sheet("线索")
    ws.append(["编号", "线索内容"])
    ws.append(["A1", CLUE])
    src, out = tmp_path / "in.xlsx", tmp_path / "out.csv"
    wb.save(src)
    r = _ok(run_classify(runner, src, "-o", out, "--sheet", "线索", "--models", trained))
    assert "使用“线索内容”列" in r.output
    df = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(df["编号"]) == ["A1"] and df["质量"].iloc[0] in ("合格", "低质")
    _refused(run_classify(runner, src, "-o", out, "--sheet", "无此表", "--models", trained), "说明、线索")


def test_bulletin_txt_and_docx_are_documents_split_into_cases(runner, trained, tmp_path):
    import docx

    txt = tmp_path / "通报.txt"
    txt.write_text(hostile.BULLETIN, encoding="gb18030")
    d = docx.Document()
    for part in hostile.BULLETIN.split("。"):
        d.add_paragraph(part + "。")
    d.save(tmp_path / "通报.docx")
    for src in (txt, tmp_path / "通报.docx"):
        out = tmp_path / f"{src.suffix[1:]}.csv"
        _ok(run_classify(runner, src, "-o", out, "--models", trained))
        df = pd.read_csv(out, dtype=str, keep_default_na=False)
        assert set(df["id"]) == {"通报"}
        cases = df[df["文本类型"] == "通报案例"]
        assert len(cases) == 3, df[["案例序号", "文本类型"]]


def test_old_formats_and_text_outputs_refused(runner, trained, tmp_path):
    xls = tmp_path / "old.xls"
    xls.write_bytes(b"\xd0\xcf\x11\xe0" + bytes(100))
    _refused(run_classify(runner, xls, "-o", tmp_path / "o.csv", "--models", trained), "另存为” .xlsx")
    src = tmp_path / "in.csv"
    src.write_text(f"text\n{CLUE}\n", encoding="utf-8")
    for bad in ("r.txt", "r.docx"):
        _refused(run_classify(runner, src, "-o", tmp_path / bad, "--models", trained), "作输出文件后缀")
        assert not (tmp_path / bad).exists()


def test_input_with_our_column_names_is_kept_under_a_prefix(runner, trained, tmp_path):
    src, out = tmp_path / "in.csv", tmp_path / "out.xlsx"
    src.write_text(f"id,text,质量,依据\n1,{CLUE},合格,人工\n", encoding="utf-8")
    r = _ok(run_classify(runner, src, "-o", out, "--models", trained))
    assert "“质量”→“原质量”" in r.output
    df = pd.read_excel(out, dtype=str, keep_default_na=False)
    assert df["原质量"].tolist() == ["合格"] and df["原依据"].tolist() == ["人工"]
    assert df["质量"].iloc[0] in ("合格", "低质") and df.columns.is_unique


def test_formula_cell_without_value_is_reported_by_row(runner, trained, tmp_path):
    src, _ = hostile.formula_no_value(tmp_path)
    out = tmp_path / "out.xlsx"
    r = _ok(run_classify(runner, src, "-o", out, "--models", trained))
    assert "公式无值" in r.output and "第 3 行" in r.output
    summary = openpyxl.load_workbook(out)["汇总"]
    assert any("公式无值" in str(c.value) for row in summary.iter_rows() for c in row)


def test_header_only_and_headerless_csv(runner, trained, tmp_path):
    out = tmp_path / "out.csv"
    for tail in ("", "\n"):
        src = tmp_path / "h.csv"
        src.write_text("id,text" + tail, encoding="utf-8")
        _refused(run_classify(runner, src, "-o", out, "--models", trained), "只有表头")
        assert not out.exists()
    src = tmp_path / "nohdr.csv"
    src.write_text(f"{CLUE},x\n{CLUE},y\n", encoding="utf-8")
    r = _refused(run_classify(runner, src, "-o", out, "--models", trained), "看起来是数据而不是表头")
    assert "民政局" not in r.output  # the first clue is never echoed as "column names"


def test_big5_is_read_and_foreign_encodings_refused(runner, trained, tmp_path):
    src, out = tmp_path / "big5.csv", tmp_path / "out.csv"
    src.write_bytes(f"id,text\n1,{OpenCC('s2tw').convert(CLUE)}\n".encode("cp950"))
    _ok(run_classify(runner, src, "-o", out, "--models", trained))
    assert pd.read_csv(out, dtype=str)["text"].iloc[0] == OpenCC("s2tw").convert(CLUE)  # decoded right, kept as written
    for enc in sorted(hostile.FOREIGN):
        bad = tmp_path / f"{enc}.csv"
        bad.write_bytes(f"id,text\n1,{hostile.FOREIGN[enc]}\n".encode(enc))
        _refused(run_classify(runner, bad, "-o", out, "--models", trained), "--encoding")
    hz = tmp_path / "hz.csv"
    hz.write_bytes(f"id,text\n1,{CLUE}\n".encode("hz"))
    _ok(run_classify(runner, hz, "-o", out, "--encoding", "hz", "--models", trained))
    assert CLUE in pd.read_csv(out, dtype=str)["text"].iloc[0]


def test_bad_bytes_named_by_line_and_offset_or_replaced_and_listed(runner, trained, tmp_path):
    src, out = tmp_path / "gbk.csv", tmp_path / "out.xlsx"
    good = f"id,text\n1,{CLUE}\n".encode("gbk")
    src.write_bytes(good + b"2,\xff\x80" + CLUE.encode("gbk") + b"\n")
    _refused(run_classify(runner, src, "-o", out, "--models", trained), "第 3 行", f"第 {len(good) + 3} 个字节",
             "--encoding-errors replace")
    assert not out.exists()
    r = _ok(run_classify(runner, src, "-o", out, "--encoding-errors", "replace", "--models", trained))
    assert "编码替换：1 行" in r.output and "第 3 行" in r.output
    df = pd.read_excel(out, dtype=str)
    assert len(df) == 2 and "\ufffd" in df["text"].iloc[1]


def test_random_files_give_one_chinese_line(runner, trained, tmp_path):
    rng = random.Random(5)
    for i in range(6):
        d = tmp_path / str(i)
        d.mkdir()
        src, args = hostile.random_bytes(d, rng=rng)
        r = run_classify(runner, src, "-o", d / "o.csv", *args, "--models", trained)
        assert r.exit_code in (0, 1) and isinstance(r.exception, (SystemExit, type(None))), r.output
