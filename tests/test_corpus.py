import io

import pandas as pd

from conftest import ROOT
from nlp import corpus


def test_shipped_corpus_passes_check():
    out = io.StringIO()
    code = corpus.check(ROOT / "corpora" / "clues.csv", out=out)
    assert code == 0, out.getvalue()[-3000:]


def test_check_names_row_and_column(tmp_path):
    df = pd.read_csv(ROOT / "corpora" / "clues.csv", dtype=str, keep_default_na=False).head(50).copy()
    df.loc[3, "东丽类别"] = "D99"
    df.loc[7, "质量"] = "好"
    df.loc[9, "text"] = df.loc[8, "text"]
    p = tmp_path / "c.csv"
    df.to_csv(p, index=False)
    out = io.StringIO()
    assert corpus.check(p, out=out) != 0
    text = out.getvalue()
    assert "第 4 行“东丽类别”列" in text and "D99" in text
    assert "第 8 行“质量”列" in text
    assert "近似重复" in text
    assert "覆盖不足" in text


def test_near_duplicates():
    a = "某县住建局对群众反映的小区违建问题三个月不予处理，多次投诉无人答复。"
    pairs = corpus.near_duplicates([a, a + "。", "完全不同的一句话，讲的是食堂饭菜"])
    assert [(i, j) for i, j, _ in pairs] == [(0, 1)]


def test_splits_keep_case_groups_together(corpus_df):
    with_case = corpus_df[corpus_df["case"] != ""]
    assert (with_case.groupby("case")["split"].nunique() == 1).all()
    shares = corpus_df["split"].value_counts(normalize=True)
    assert 0.75 < shares["train"] < 0.85 and 0.07 < shares["test"] < 0.13


def test_rows_copied_from_sources_are_flagged(tmp_path):
    sources = tmp_path / "shared"
    (sources / "seeds").mkdir(parents=True)
    (sources / "cases").mkdir()
    (sources / "seeds" / "plan.txt").write_text("各级领导干部要切实扛起整治不作为不担当问题的政治责任，确保取得实效。", encoding="utf-8")
    (sources / "cases" / "c.jsonl").write_text(
        '{"id": "K9-001", "facts": "某县水利局对河道非法采砂长期放任不管，群众多次举报未查处。"}\n', encoding="utf-8")
    df = pd.read_csv(ROOT / "corpora" / "clues.csv", dtype=str, keep_default_na=False).head(40).copy()
    df.loc[5, "text"] = "听说：某县水利局对河道非法采砂长期放任不管，群众多次举报未查处。"  # copied from the note
    df.loc[6, "text"] = "县水利局对河里偷采砂子的事一直睁一只眼闭一只眼，举报了好几回都没人来查。"  # own words
    p = tmp_path / "c.csv"
    df.to_csv(p, index=False)
    out = io.StringIO()
    assert corpus.check(p, out=out, sources=sources) != 0
    text = out.getvalue()
    assert "第 6 行“text”列：与来源原文连续" in text
    assert "第 7 行“text”列：与来源原文" not in text
