"""classify.py as a user runs it: round trips, bad input, intake summary, long texts."""

import json

import openpyxl
import pandas as pd
import pytest

from conftest import ROOT, run_classify

CLUES = [
    "2024年3月，某县住建局对群众反映的小区违建问题三个月不予处理，多次投诉无人答复。",
    "办公室桌面文件摆放凌乱，绿植没人浇水。",
    "楼上邻居半夜拖椅子，吵得睡不着。",
    "柳河镇派出所接到村民报警称有人欺行霸市，民警两个小时后才出警。",
    "",
    "   ",
]
OUT_COLUMNS = ["质量", "低质原因", "质量分", "缺失要素", "维度", "作为类型", "东丽类别", "盐山类别", "依据"]


def frame():
    return pd.DataFrame({"id": [f"T{i}" for i in range(len(CLUES))], "text": CLUES})


def check_output(df: pd.DataFrame):
    for c in OUT_COLUMNS + ["id", "text", "质量置信度"]:
        assert c in df.columns, c
    assert len(df) == len(CLUES)
    df = df.astype(object).where(df.notna(), "")
    assert list(df["id"]) == [f"T{i}" for i in range(len(CLUES))]
    assert set(df["质量"]) <= {"合格", "低质"}
    # empty and whitespace rows: low quality, vague, counted
    assert list(df["质量"][4:]) == ["低质", "低质"] and list(df["低质原因"][4:]) == ["空泛", "空泛"]
    first = df.iloc[0]
    assert first["质量"] == "合格" and first["作为类型"] in {"不作为", "慢作为"} and first["东丽类别"].startswith("D")
    assert int(float(first["质量分"])) >= 50
    assert df.iloc[1]["低质原因"] == "琐碎" and df.iloc[2]["低质原因"] == "无关"
    low = df[df["质量"] == "低质"]
    assert (low["东丽类别"] == "").all()  # codes of 低质 rows stay empty, as in the taxonomy format


def test_csv_round_trip(runner, trained, tmp_path):
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    frame().to_csv(src, index=False)
    r = run_classify(runner, src, "-o", out, "--models", trained)
    assert r.exit_code == 0, r.output
    check_output(pd.read_csv(out, dtype=str, keep_default_na=False))
    assert "质量" in r.output and "条/秒" in r.output  # closing summary


def test_gb18030_csv(runner, trained, tmp_path):
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    frame().to_csv(src, index=False, encoding="gb18030")
    r = run_classify(runner, src, "-o", out, "--models", trained)
    assert r.exit_code == 0, r.output
    check_output(pd.read_csv(out, dtype=str, keep_default_na=False))


def test_xlsx_round_trip_highlights_low_quality(runner, trained, tmp_path):
    src, out = tmp_path / "in.xlsx", tmp_path / "out.xlsx"
    frame().to_excel(src, index=False)
    r = run_classify(runner, src, "-o", out, "--models", trained)
    assert r.exit_code == 0, r.output
    check_output(pd.read_excel(out, dtype=str, sheet_name="分类结果"))
    wb = openpyxl.load_workbook(out)
    ws = wb["分类结果"]
    header = [c.value for c in ws[1]]
    qcol = header.index("质量")
    fills = {row[qcol].value: row[0].fill.fgColor.rgb for row in ws.iter_rows(min_row=2)}
    assert fills["低质"] != fills["合格"]
    assert "汇总" in wb.sheetnames


def test_jsonl_round_trip(runner, trained, tmp_path):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in frame().to_dict("records")), encoding="utf-8")
    r = run_classify(runner, src, "-o", out, "--models", trained)
    assert r.exit_code == 0, r.output
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    check_output(pd.DataFrame(rows))


def test_other_column_and_names(runner, trained, tmp_path):
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    frame().rename(columns={"text": "内容"}).to_csv(src, index=False)
    r = run_classify(runner, src, "-o", out, "--column", "内容", "--names", "--models", trained)
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert "东丽类别名称" in df.columns and df.iloc[0]["东丽类别名称"]


def test_missing_column_names_existing_ones(runner, trained, tmp_path):
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    pd.DataFrame({"编号": [1], "备注": ["x"]}).to_csv(src, index=False)  # none of the usual text columns
    r = run_classify(runner, src, "-o", out, "--models", trained)
    assert r.exit_code != 0
    assert "找不到文本列" in r.output and "编号、备注" in r.output and "Traceback" not in r.output
    assert not out.exists()
    r = run_classify(runner, src, "-o", out, "--column", "内容", "--models", trained)
    assert r.exit_code != 0 and "没有“内容”列" in r.output and "编号、备注" in r.output


def test_broken_excel_is_a_clear_error(runner, trained, tmp_path):
    src, out = tmp_path / "in.xlsx", tmp_path / "out.csv"
    src.write_bytes(b"PK\x03\x04 this is not really a workbook")
    r = run_classify(runner, src, "-o", out, "--models", trained)
    assert r.exit_code != 0 and "损坏" in r.output and "Traceback" not in r.output
    assert not out.exists()


def test_non_text_cell_names_row_and_no_partial_output(runner, trained, tmp_path):
    src, out = tmp_path / "in.xlsx", tmp_path / "out.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["id", "text"])
    for i in range(3000):  # more than one chunk, so some output was produced before the error
        ws.append([i, "某县民政局对低保申请长期不予答复。" if i != 2500 else 12345])
    wb.save(src)
    r = run_classify(runner, src, "-o", out, "--models", trained, "--chunk-size", "1000", "--workers", "1")
    assert r.exit_code != 0 and "第 2502 行" in r.output and "不是文本" in r.output  # Excel row (header = 1)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_bad_encoding_and_quotes(runner, trained, tmp_path):
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_bytes(b'id,text\n1,"unterminated\n2,\xff\xfe\xfa\xfb\xfc\n')
    r = run_classify(runner, src, "-o", out, "--models", trained)
    assert r.exit_code != 0 and "Traceback" not in r.output
    assert not out.exists()


def test_intake_summary(runner, trained):
    r = run_classify(runner, "--text", "有些干部作风不好，希望整治", "--models", trained)
    assert r.exit_code == 0, r.output
    assert "低质" in r.output and "缺失要素" in r.output and "建议向反映人补问" in r.output
    r = run_classify(runner, "--text", "2023年5月，某镇安监站对辖区化工企业的危化品露天堆放隐患长期不管，检查记录填写“未发现问题”。",
                     "--models", trained)
    assert r.exit_code == 0, r.output
    assert "合格" in r.output and "作为类型" in r.output and "依据" in r.output


def test_bulletin_is_split_into_cases(runner, trained, tmp_path):
    bulletin = ("关于3起典型问题的通报\n"
                "一、某县民政局股长刘某未按规定开展低保年度复核，导致9名已死亡人员继续领取低保金4.2万元。刘某受到党内警告处分。\n"
                "二、某镇安监站站长陈某某对辖区企业安全隐患排查走过场，导致发生火灾事故。陈某某受到政务记过处分。\n"
                "三、某区城管执法中队对商户占道经营投诉推诿长达半年，中队长周某受到诫勉谈话处理。")
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    pd.DataFrame({"id": ["B1", "C1"], "text": [bulletin, CLUES[0]]}).to_csv(src, index=False)
    r = run_classify(runner, src, "-o", out, "--models", trained)
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out, dtype=str, keep_default_na=False)
    cases = df[df["id"] == "B1"]
    assert list(cases["案例序号"]) == ["1", "2", "3"]
    assert set(cases["文本类型"]) == {"通报案例"}
    assert cases.iloc[0]["东丽类别"] != "" and cases.iloc[1]["盐山类别"] == "Y2"
    assert list(df[df["id"] == "C1"]["案例序号"]) == [""]


def test_policy_document_gets_paragraphs_and_summary(runner, trained, tmp_path):
    doc = (ROOT / "tests" / "data" / "policy_doc.txt").read_text(encoding="utf-8")
    src, out = tmp_path / "in.jsonl", tmp_path / "out.csv"
    src.write_text(json.dumps({"id": "DOC", "text": doc}, ensure_ascii=False), encoding="utf-8")
    r = run_classify(runner, src, "-o", out, "--models", trained)
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert set(df["id"]) == {"DOC"} and len(df) >= 10
    parts = df[df["文本类型"] == "文件段落"]
    assert list(parts["案例序号"]) == [str(i) for i in range(1, len(parts) + 1)]
    summary = df[df["案例序号"] == "全文"]
    assert len(summary) == 1 and "段" in summary.iloc[0]["依据"]
    # the plan's eight items spread over several categories, not one muddled label
    assert parts["盐山类别"].nunique() >= 4 and parts["东丽类别"].nunique() >= 4
    assert set(summary.iloc[0]["维度"].split("|")) >= {"懒", "软"}


def test_elements_found_and_missing(runner, trained):
    full = "2023年5月，青石镇安监站站长陈某对辖区化工厂危化品露天堆放的隐患一直不管，导致3名工人受伤。"
    r = run_classify(runner, "--text", full, "--models", trained)
    assert r.exit_code == 0, r.output
    assert "时间“2023年5月”" in r.output and "地点“青石镇" in r.output
    assert "缺失要素" not in r.output and "建议向反映人补问" not in r.output
    r = run_classify(runner, "--text", "有些干部作风不好，希望整治", "--models", trained)
    lines = [x for x in r.output.splitlines() if x.startswith("缺失要素")]
    assert lines and all(e in lines[0] for e in ("时间", "地点", "后果"))
    assert "事情发生在什么时候" in r.output  # the question to put to the reporter


def test_element_api_uses_patterns_and_pos_tags():
    from nlp.elements import ElementExtractor
    from nlp.segment import Tokenizer

    ex = ElementExtractor(Tokenizer())
    found = ex.extract("去年冬天，城关镇供暖办对居民报修拖了四十天，损失约2万元。")
    assert found["时间"] and found["地点"].endswith("镇") and found["后果"]
    assert "对象" not in ex.missing("县医保局王某拒不办理报销")
    assert ex.missing("") == ["对象", "时间", "地点", "具体行为", "后果"]


def test_output_same_as_input_refused(runner, trained, tmp_path):
    src = tmp_path / "in.csv"
    frame().to_csv(src, index=False)
    r = run_classify(runner, src, "-o", src, "--models", trained)
    assert r.exit_code != 0 and frame().shape[0] == len(pd.read_csv(src))


def test_huge_text_is_split_without_losing_or_copying_text(runner, trained, tmp_path):
    sentence = "某县民政局对低保申请长期不予答复，群众多次到窗口询问无果。"
    huge = sentence * 10_000  # 290,000 characters in one cell, no line breaks
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    pd.DataFrame({"id": ["H1", "C1"], "text": [huge, CLUES[0]]}).to_csv(src, index=False)
    r = run_classify(runner, src, "-o", out, "--models", trained)
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out, dtype=str, keep_default_na=False)
    parts = df[(df["id"] == "H1") & (df["案例序号"] != "全文")]
    assert 2 <= len(parts) <= 200
    # every sentence is in some part, and no part carries the whole text again
    assert sum(p.count("某县民政局") for p in parts["text"]) == 10_000
    assert parts["text"].str.len().max() < len(huge) // 10
    assert (df["id"] == "C1").sum() == 1 and out.stat().st_size < 3 * len(huge.encode("utf-8"))
