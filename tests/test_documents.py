"""Bulletins split into their numbered cases: inline numbering, no lost text, no false splits."""

import subprocess
import sys

import pandas as pd

from conftest import ROOT
from nlp.documents import KIND_CASE, original_case_texts, split_document
from nlp.normalize import normalize

CASES = [
    "（一）某县民政局股长刘某未按规定开展低保年度复核，导致9名已死亡人员继续领取低保金4.2万元，刘某受到党内警告处分。",
    "（二）某镇安监站站长陈某某对辖区企业安全隐患排查走过场，导致发生火灾事故，陈某某受到政务记过处分。",
    "（三）某区城管执法中队对商户占道经营投诉推诿长达半年，中队长周某受到诫勉谈话处理。",
]
PREAMBLE = "近日，区纪委监委通报3起典型问题："
BULLETIN = PREAMBLE + "".join(CASES)


def test_one_line_bulletin_keeps_every_case_and_all_text():
    text = normalize(BULLETIN)
    parts = split_document(text)
    assert [p.kind for p in parts] == [KIND_CASE] * 3 and [p.number for p in parts] == [1, 2, 3]
    # exact: the parts are contiguous slices of the normalised text (nothing stripped)
    assert "".join(p.text for p in parts) == text
    assert parts[0].text.startswith(normalize(PREAMBLE)) and "刘某" in parts[0].text
    assert "陈某某" in parts[1].text and "周某" in parts[2].text


def test_original_characters_are_recovered():
    parts = [p.text for p in split_document(normalize(BULLETIN))]
    original = original_case_texts(BULLETIN, parts, normalize)
    assert original == [PREAMBLE + CASES[0], CASES[1], CASES[2]]


def test_jingcha_and_half_width_parentheses():
    text = normalize("经查：" + "".join(c.replace("（", "(").replace("）", ")") for c in CASES))
    parts = split_document(text)
    assert len(parts) == 3 and "".join(p.text for p in parts) == text


def test_inline_arabic_numbering():
    text = normalize("经查：1.某县民政局股长刘某未按规定开展低保年度复核，导致多名已死亡人员继续领取低保金，受到党内警告处分。"
                     "2.某镇安监站站长陈某某对辖区企业安全隐患排查走过场，受到政务记过处分。"
                     "3.某区城管执法中队长周某对商户占道经营投诉推诿长达半年，受到诫勉谈话处理。")
    parts = split_document(text)
    assert len(parts) == 3 and "".join(p.text for p in parts) == text
    assert parts[1].text.startswith("2.") and parts[2].text.startswith("3.")


def test_numbers_in_amounts_and_dates_do_not_split():
    text = normalize("经查，某县民政局股长刘某违规发放低保金3.5万元，受到党内警告处分。"
                     "2023.5至2024.1期间，陈某某多次收受礼金，受到政务记过处分。"
                     "其中2.5万元用于个人消费，1.2万元已退缴，案件由区纪委监委立案审查并移送处理。")
    assert len(split_document(text)) == 1


def test_short_item_is_merged_not_dropped():
    text = normalize("一、刘某受到警告处分。\n二、某镇安监站站长陈某某对辖区企业安全隐患排查走过场，导致发生火灾事故，受到政务记过处分。"
                     "\n三、某区城管执法中队长周某对商户占道经营投诉推诿长达半年，群众多次反映无果，受到诫勉谈话处理。")
    parts = split_document(text)
    assert len(parts) == 2 and "".join(p.text for p in parts) == text and "刘某" in parts[0].text


def test_cli_bulletin_every_case_in_output(trained, tmp_path):
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    pd.DataFrame({"id": ["B1"], "text": [BULLETIN]}).to_csv(src, index=False)
    r = subprocess.run([sys.executable, str(ROOT / "classify.py"), str(src), "-o", str(out), "--models", str(trained)],
                       capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    df = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(df["案例序号"]) == ["1", "2", "3"]
    assert list(df["text"]) == [PREAMBLE + CASES[0], CASES[1], CASES[2]]  # original characters
    assert "".join(df["text"]) == BULLETIN
