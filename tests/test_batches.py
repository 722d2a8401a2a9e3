"""Corpus additions as recorded, reversible batches; the audit → review → --add round trip."""

import json
import re
import shutil

import openpyxl
import pandas as pd

from conftest import run_train
from nlp.registry import Registry

FLIP = {"琐碎": "无关", "无关": "空泛", "空泛": "琐碎"}


def _batch_of(output: str) -> str:
    return re.search(r"--undo-add (\d{8}-\d{6}(?:-\d+)?)", output).group(1)


def test_audit_review_round_trip_changes_rows_by_id_and_undo_restores_the_corpus(runner, small_corpus, tmp_path):
    corpus, models = tmp_path / "clues.csv", tmp_path / "models"
    models.mkdir()  # --add into an existing models folder (a mistyped --models is refused)
    df = pd.read_csv(small_corpus, dtype=str, keep_default_na=False)
    flipped = df.index[df["质量"] == "低质"][:6]
    truth = df.loc[flipped, "低质原因"].copy()
    df.loc[flipped, "低质原因"] = truth.map(FLIP)
    df.to_csv(corpus, index=False)
    before = corpus.read_bytes()
    out = tmp_path / "复核.xlsx"
    r = run_train(runner, "--audit", "--corpus", corpus, "--audit-out", out)
    assert r.exit_code == 0, r.output
    assert "复核结论" in r.output and "--add" in r.output
    wb = openpyxl.load_workbook(out)
    ws = wb["待复核"]
    header = [c.value for c in ws[1]]
    rows = [dict(zip(header, r)) for r in ws.iter_rows(min_row=2, values_only=True)]
    assert {"复核结论", "核对人", "现有标注名称", "模型判断名称"} <= set(header)
    p = [r["现有标注概率"] for r in rows]
    assert p == sorted(p) and [r["序号"] for r in rows] == list(range(1, len(rows) + 1))  # most likely wrong first
    assert ws.freeze_panes == "A2" and ws.data_validations.dataValidation
    ids = {df.at[k, "id"]: k for k in flipped}
    mine = [n for n, r in enumerate(rows, start=2) if r["id"] in ids and r["头部"] == "低质原因"]
    assert len(mine) >= 3
    col = {h: i + 1 for i, h in enumerate(header)}
    # a conclusion nobody can read is refused with the row, and nothing changes
    ws.cell(row=mine[0], column=col["复核结论"]).value = "改为 X9"
    wb.save(out)
    r = run_train(runner, "--add", out, "--corpus", corpus, "--models", models)
    assert r.exit_code == 1 and f"第 {mine[0]} 行" in r.output and "改为模型判断" in r.output
    assert corpus.read_bytes() == before
    # take the model's label, type the right one by its name, keep one as it is
    a, b, c = mine[:3]
    ws.cell(row=a, column=col["复核结论"]).value = "改为模型判断"
    ws.cell(row=a, column=col["核对人"]).value = "张敏"
    right = truth[ids[rows[b - 2]["id"]]]
    name = {"琐碎": "琐碎小事", "空泛": "内容空泛", "无关": "与履职无关"}[right]
    ws.cell(row=b, column=col["复核结论"]).value = f"改为 {name}"
    ws.cell(row=c, column=col["复核结论"]).value = "维持"
    wb.save(out)
    r = run_train(runner, "--add", out, "--corpus", corpus, "--models", models, "--force")
    assert r.exit_code == 0, r.output
    assert "1 处维持原标注" in r.output and "新增 0 行" in r.output
    merged = pd.read_csv(corpus, dtype=str, keep_default_na=False)
    assert len(merged) == len(df) and merged["id"].tolist() == df["id"].tolist()  # changed by id, no duplicates
    got = merged.set_index("id")
    ra, rb, rc = (rows[n - 2] for n in (a, b, c))
    assert got.at[ra["id"], "低质原因"] == ra["模型判断"] and got.at[ra["id"], "reviewer"] == "张敏"
    assert got.at[rb["id"], "低质原因"] == right
    assert got.at[rc["id"], "低质原因"] == rc["现有标注"]
    batch = _batch_of(r.output)
    r = run_train(runner, "--list", "--corpus", corpus, "--models", models)
    assert batch in r.output and "改标 2 处" in r.output and f"含批次 {batch}" in r.output
    r = run_train(runner, "--undo-add", batch, "--corpus", corpus, "--models", models)
    assert r.exit_code == 0, r.output
    assert corpus.read_bytes() == before  # byte for byte


def test_add_is_a_batch_that_undo_takes_out_with_its_model(runner, small_corpus, tmp_path):
    corpus, models = tmp_path / "clues.csv", tmp_path / "models"
    models.mkdir()  # --add into an existing models folder (a mistyped --models is refused)
    shutil.copy(small_corpus, corpus)
    before = corpus.read_bytes()
    assert run_train(runner, "--corpus", corpus, "--models", models).exit_code == 0
    base = Registry(models).current()
    add = tmp_path / "新标注.csv"
    pd.DataFrame({"text": ["2025年6月，安平县医保局窗口对王建国的异地报销申请推了三次，每次要的材料都不一样。",
                           "青石镇社区主任把慰问困难户的米面油分给了自家亲戚，群众多次反映没人管。",
                           "今天食堂的菜有点咸。"],
                  "质量": ["合格", "合格", "低质"], "低质原因": ["", "", "琐碎"], "维度": ["懒", "散", ""],
                  "作为类型": ["不作为", "乱作为", ""], "东丽类别": ["D06", "D07", ""], "盐山类别": ["Y5", "Y0", ""],
                  "已核对": ["是", "是", "是"], "核对人": ["李明"] * 3}).to_csv(add, index=False)
    r = run_train(runner, "--add", add, "--corpus", corpus, "--models", models, "--force")
    assert r.exit_code == 0, r.output
    batch = _batch_of(r.output)
    added = Registry(models).current()
    merged = pd.read_csv(corpus, dtype=str, keep_default_na=False)
    assert (merged["added"] == batch).sum() == 3
    journal = [json.loads(x) for x in (tmp_path / "clues.batches.jsonl").read_text(encoding="utf-8").splitlines()]
    assert journal[-1]["batch"] == batch and journal[-1]["model"] == added and len(journal[-1]["rows"]) == 3
    # a rollback changes the model only, and says so
    r = run_train(runner, "--rollback", "--corpus", corpus, "--models", models)
    assert r.exit_code == 0 and "语料未改动" in r.output and f"--undo-add {batch}" in r.output
    assert Registry(models).current() == base and corpus.read_bytes() != before
    assert run_train(runner, "--use", added, "--models", models).exit_code == 0
    r = run_train(runner, "--list", "--corpus", corpus, "--models", models)
    assert f"{batch}  新标注.csv：新增 3 行" in r.output and "在语料中" in r.output
    # undoing the batch takes its rows out and the model trained with them
    r = run_train(runner, "--undo-add", batch, "--corpus", corpus, "--models", models)
    assert r.exit_code == 0, r.output
    assert "删除 3 行" in r.output and base in r.output
    assert corpus.read_bytes() == before and Registry(models).current() == base
    r = run_train(runner, "--undo-add", batch, "--corpus", corpus, "--models", models)
    assert r.exit_code == 1 and "已于" in r.output
    r = run_train(runner, "--list", "--corpus", corpus, "--models", models)
    assert "已撤销" in r.output
