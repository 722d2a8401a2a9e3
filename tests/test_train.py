"""train.py as a user runs it: reports, determinism, verified loading, the labeling loop."""

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import openpyxl
import pandas as pd

from conftest import ROOT, run_classify, run_train
from nlp.registry import Registry


def _mkdir(path):
    """A models folder that exists (train.py --add refuses a missing one: it could be a typo)."""
    path.mkdir(exist_ok=True)
    return path


def test_report_is_on_test_split(trained):
    reg = Registry(trained)
    v = reg.current()
    report = json.loads((reg.path(v) / "report.json").read_text(encoding="utf-8"))
    heads = report["evaluation"]["heads"]
    assert set(heads) == {"质量", "低质原因", "维度", "作为类型", "东丽类别", "盐山类别"}
    assert report["info"]["test_rows"] == report["evaluation"]["rows"] > 0
    for h in heads.values():
        assert 0 <= h["macro_f1"] <= 1 and h["per_class"]
    assert "confusion" in heads["东丽类别"]
    md = (reg.path(v) / "report.md").read_text(encoding="utf-8")
    assert "test 划分" in md and "混淆矩阵" in md and report["info"]["corpus_hash"] in md


def test_training_is_deterministic(runner, small_corpus, tmp_path):
    outs = []
    for k in range(2):
        models = tmp_path / f"m{k}"
        r = run_train(runner, "--corpus", small_corpus, "--models", models)
        assert r.exit_code == 0, r.output
        reg = Registry(models)
        model = reg.load()
        texts = pd.read_csv(small_corpus, dtype=str, keep_default_na=False)["text"].head(200).tolist()
        outs.append(model.predict_proba(texts))
        report = json.loads((reg.path(reg.current()) / "report.json").read_text(encoding="utf-8"))
        outs.append(report["evaluation"])
    for sid in outs[0]:
        np.testing.assert_array_equal(outs[0][sid], outs[2][sid])
    assert outs[1] == outs[3]


def test_tampered_model_is_refused(runner, fresh_models, tmp_path):
    reg = Registry(fresh_models)
    f = reg.path(reg.current()) / "model.joblib"
    f.write_bytes(f.read_bytes()[:-10] + b"0123456789")
    r = run_classify(runner, "--text", "某县民政局对低保申请不予答复", "--models", fresh_models)
    assert r.exit_code != 0 and "SHA-256" in r.output and "Traceback" not in r.output


def test_model_signed_elsewhere_is_refused(runner, fresh_models, monkeypatch, tmp_path):
    monkeypatch.setenv("JJJC_KEY_FILE", str(tmp_path / "other.key"))
    (tmp_path / "other.key").write_text("another installation's key")
    r = run_classify(runner, "--text", "某县民政局对低保申请不予答复", "--models", fresh_models)
    assert r.exit_code != 0 and "签名不符" in r.output


def test_other_library_versions_are_rebuilt(runner, fresh_models, monkeypatch):
    from nlp import registry as reg_mod

    real = reg_mod.library_versions
    monkeypatch.setattr(reg_mod, "library_versions", lambda: {**real(), "scikit-learn": "0.0-other"})
    old = Registry(fresh_models).current()
    r = run_classify(runner, "--text", "某县民政局对低保申请不予答复", "--models", fresh_models)
    assert r.exit_code == 0, r.output
    assert "不同版本的库" in r.output and Registry(fresh_models).current() != old


def test_list_and_rollback(runner, fresh_models, small_corpus):
    first = Registry(fresh_models).current()
    r = run_train(runner, "--corpus", small_corpus, "--models", fresh_models)
    assert r.exit_code == 0, r.output
    second = Registry(fresh_models).current()
    assert second != first
    r = run_train(runner, "--list", "--models", fresh_models)
    assert first in r.output and f"* {second}" in r.output and "质量" in r.output
    r = run_train(runner, "--rollback", "--models", fresh_models)
    assert r.exit_code == 0 and Registry(fresh_models).current() == first


def _copy_corpus(src, dst, drop=None):
    df = pd.read_csv(src, dtype=str, keep_default_na=False)
    if drop is not None:
        df = df[~drop(df)]
    df.to_csv(dst, index=False)
    return df


def test_add_reports_duplicates_and_conflicts(runner, small_corpus, tmp_path):
    corpus = tmp_path / "clues.csv"
    models = tmp_path / "models"
    base = _copy_corpus(small_corpus, corpus)
    assert run_train(runner, "--corpus", corpus, "--models", models).exit_code == 0
    good = base[base["质量"] == "合格"].iloc[0]
    new = pd.DataFrame([
        {"text": good["text"], **{c: good[c] for c in ["质量", "低质原因", "维度", "作为类型", "东丽类别", "盐山类别"]}},
        {"text": good["text"] + "。", "质量": "低质", "低质原因": "空泛"},
    ])
    add = tmp_path / "new.csv"
    new.to_csv(add, index=False)
    before = corpus.read_bytes()
    r = run_train(runner, "--add", add, "--trust-labels", "--corpus", corpus, "--models", models)
    assert r.exit_code != 0 and "冲突" in r.output and "--prefer" in r.output
    assert corpus.read_bytes() == before  # nothing merged
    r = run_train(runner, "--add", add, "--trust-labels", "--corpus", corpus, "--models", models, "--prefer", "old")
    assert "重复" in r.output and "没有新的行" in r.output
    assert corpus.read_bytes() == before


def test_add_invalid_rows_names_row_and_column(runner, small_corpus, tmp_path):
    corpus = tmp_path / "clues.csv"
    _copy_corpus(small_corpus, corpus)
    add = tmp_path / "new.xlsx"
    pd.DataFrame({"text": ["某县交通局对断头路问题三年不予答复", "ok文本"], "质量": ["合格", "低质"],
                  "低质原因": ["", "随便"], "维度": ["懒", ""], "作为类型": ["慢作为", ""],
                  "东丽类别": ["D66", ""], "盐山类别": ["Y0", ""]}).to_excel(add, index=False)
    before = corpus.read_bytes()
    r = run_train(runner, "--add", add, "--trust-labels", "--corpus", corpus, "--models", _mkdir(tmp_path / "m"))
    assert r.exit_code != 0
    assert "第 2 行“东丽类别”列" in r.output and "第 3 行“低质原因”列" in r.output
    assert corpus.read_bytes() == before


def test_labeling_loop_learns_a_new_domain(runner, small_corpus, corpus_df, tmp_path):
    """A model trained without 盐山 Y4 (food and drug) rows; add a few dozen, held-out accuracy rises."""
    corpus = tmp_path / "clues.csv"
    models = tmp_path / "models"
    is_y4 = lambda df: df["盐山类别"] == "Y4"
    _copy_corpus(small_corpus, corpus, drop=is_y4)
    assert run_train(runner, "--corpus", corpus, "--models", models).exit_code == 0
    y4 = corpus_df[is_y4(corpus_df)].sample(frac=1.0, random_state=3)
    add_rows, held = y4.iloc[:40], y4.iloc[40:]
    assert len(held) >= 20

    def held_accuracy():
        model = Registry(models).load()
        p = model.predict_proba(held["text"].tolist())["盐山类别"]
        codes = np.array(model.taxonomy_["盐山类别"].code_list)
        return float((codes[p.argmax(axis=1)] == "Y4").mean())

    before = held_accuracy()
    add = tmp_path / "y4.csv"
    add_rows.drop(columns=["id", "split", "source", "added"]).to_csv(add, index=False)
    r = run_train(runner, "--add", add, "--trust-labels", "--corpus", corpus, "--models", models, "--force")
    assert r.exit_code == 0, r.output
    after = held_accuracy()
    assert after > before + 0.3, (before, after)
    merged = pd.read_csv(corpus, dtype=str, keep_default_na=False)
    assert (merged["source"] == "added:y4.csv").sum() == 40 and (merged["added"] != "").all()


def test_promotion_guard_keeps_old_model_when_a_head_drops(runner, small_corpus, tmp_path):
    corpus = tmp_path / "clues.csv"
    models = tmp_path / "models"
    df = pd.read_csv(small_corpus, dtype=str, keep_default_na=False)
    train = df[df["split"] == "train"]
    moved = train.sample(n=250, random_state=5)
    df.drop(index=moved.index).to_csv(corpus, index=False)
    assert run_train(runner, "--corpus", corpus, "--models", models).exit_code == 0
    current = Registry(models).current()
    # the same rows come back with their quality flipped: a badly labeled batch
    bad = moved.copy()
    flip = bad["质量"] == "合格"
    bad.loc[flip, ["质量", "低质原因", "维度", "作为类型", "东丽类别", "盐山类别"]] = ["低质", "空泛", "", "", "", ""]
    bad.loc[~flip, ["质量", "低质原因", "维度", "作为类型", "东丽类别", "盐山类别"]] = ["合格", "", "懒", "不作为", "D06", "Y0"]
    add = tmp_path / "bad.csv"
    bad.drop(columns=["id", "split", "source", "added"]).to_csv(add, index=False)
    r = run_train(runner, "--add", add, "--trust-labels", "--corpus", corpus, "--models", models)
    assert r.exit_code == 3, r.output
    assert "未启用" in r.output and "质量" in r.output and "下降" in r.output
    assert Registry(models).current() == current
    r = run_train(runner, "--list", "--models", models)
    assert r.output.count("\n") >= 3  # both versions kept


def test_suggest_worksheet_round_trip(runner, trained, corpus_df, tmp_path):
    """Names in the drop-downs, the model's labels pre-filled, every input column kept; only
    rows a person marked 已核对 come back."""
    src = tmp_path / "incoming.csv"
    incoming = corpus_df[["id", "text"]].head(300).copy()
    incoming.insert(1, "来源", "热线")
    incoming.to_csv(src, index=False)
    ws_path = tmp_path / "worksheet.xlsx"
    r = run_classify(runner, src, "--suggest", "20", "-o", ws_path, "--models", trained)
    assert r.exit_code == 0, r.output
    wb = openpyxl.load_workbook(ws_path)
    ws = wb["待标注"]
    header = [c.value for c in ws[1]]
    labels = ["质量", "低质原因", "维度", "作为类型", "东丽类别", "盐山类别"]
    assert header == ["id", "来源", "text"] + labels + ["已核对", "核对人", "模型把握度"]
    assert ws.max_row == 21 and ws.freeze_panes == "A2" and ws.auto_filter.ref
    assert all(ws.cell(row=k, column=2).value == "热线" for k in range(2, 22))
    assert all(ws.cell(row=k, column=4).value in ("合格", "低质") for k in range(2, 22))  # pre-filled
    codes = wb["代码表"]
    dongli = [c.value for c in codes["E"][1:] if c.value]
    assert "D07 扶贫助困敷衍应付、基层不正之风" in dongli and "懒：工作效率" in [c.value for c in codes["C"][1:]]
    formulas = {dv.formula1 for dv in ws.data_validations.dataValidation}
    assert len(formulas) == 7 and '"是,否"' in formulas
    assert ws.cell(row=2, column=header.index("模型把握度") + 1).number_format == "0%"
    # an officer confirms three rows (correcting one from the drop-down) and leaves the rest
    for row, values in zip(range(2, 5), [("合格", "", "懒：工作效率", "不作为", "D07 扶贫助困敷衍应付、基层不正之风", "Y0 不属以上九项"),
                                         ("低质", "空泛", "", "", "", ""), ("低质", "无关", "", "", "", "")]):
        ws.cell(row=row, column=3).value = f"标注测试文本{row}：某县某局对群众诉求推诿不办，拖了半年。" if values[0] == "合格" \
            else f"标注测试文本{row}：随便说说{row * 7}"
        for k, v in enumerate(values):
            ws.cell(row=row, column=4 + k).value = v
        ws.cell(row=row, column=header.index("已核对") + 1).value = "是"
        ws.cell(row=row, column=header.index("核对人") + 1).value = "王芳"
    wb.save(ws_path)
    corpus = tmp_path / "clues.csv"
    corpus_df.to_csv(corpus, index=False)
    r = run_train(runner, "--add", ws_path, "--corpus", corpus, "--models", _mkdir(tmp_path / "m"), "--force")
    assert r.exit_code == 0, r.output
    assert "17 行已填标签但未标为“已核对”" in r.output
    merged = pd.read_csv(corpus, dtype=str, keep_default_na=False)
    assert len(merged) == len(corpus_df) + 3
    first = merged.iloc[len(corpus_df)]
    assert (first["维度"], first["东丽类别"], first["盐山类别"], first["reviewer"]) == ("懒", "D07", "Y0", "王芳")


def test_user_scheme_gets_a_head(runner, small_corpus, tmp_path, monkeypatch):
    from nlp.taxonomy import default_path

    tax = tmp_path / "taxonomy.toml"
    tax.write_text(default_path().read_text(encoding="utf-8") +
                   '\n[[schemes]]\nid = "本单位类别"\nkind = "single"\napplies_to = "合格"\n'
                   '  [[schemes.codes]]\n  code = "窗口"\n  name = "窗口服务"\n'
                   '  [[schemes.codes]]\n  code = "其他"\n  name = "其他"\n', encoding="utf-8")
    monkeypatch.setattr("nlp.taxonomy.default_path", lambda: tax)
    df = pd.read_csv(small_corpus, dtype=str, keep_default_na=False)
    df["本单位类别"] = np.where(df["质量"] != "合格", "",
                           np.where(df["盐山类别"] == "Y5", "窗口", "其他"))
    corpus = tmp_path / "clues.csv"
    df.to_csv(corpus, index=False)
    models = tmp_path / "models"
    r = run_train(runner, "--corpus", corpus, "--models", models)
    assert r.exit_code == 0, r.output
    assert "本单位类别" in r.output
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    pd.DataFrame({"text": ["某县政务服务大厅窗口对企业营业执照申请材料反复退回，不一次性告知，跑了五趟还没办成。"]}).to_csv(src, index=False)
    r = run_classify(runner, src, "-o", out, "--models", models)
    assert r.exit_code == 0, r.output
    res = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert "本单位类别" in res.columns and res.iloc[0]["本单位类别"] == "窗口"


def test_killed_training_leaves_corpus_and_model_as_they_were(runner, small_corpus, tmp_path):
    corpus = tmp_path / "clues.csv"
    models = tmp_path / "models"
    _copy_corpus(small_corpus, corpus)
    assert run_train(runner, "--corpus", corpus, "--models", models).exit_code == 0
    current = Registry(models).current()
    add = tmp_path / "new.csv"
    big = pd.read_csv(ROOT / "corpora" / "clues.csv", dtype=str, keep_default_na=False)
    big = big[~big["text"].isin(pd.read_csv(corpus, dtype=str)["text"])].head(300)
    big.drop(columns=["id", "split", "source", "added"]).to_csv(add, index=False)
    before = corpus.read_bytes()
    env = {**os.environ}
    for delay in (1.0, 2.5, 4.0):
        p = subprocess.Popen([sys.executable, str(ROOT / "train.py"), "--add", str(add), "--trust-labels", "--corpus", str(corpus),
                              "--models", str(models), "--force"], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(delay)
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
        p.wait()
        if p.returncode == 0:  # finished before the kill: a complete, consistent result
            assert Registry(models).current() != current
            return
        assert corpus.read_bytes() == before
        assert Registry(models).current() == current
        Registry(models).load()  # still loads and verifies
        assert not [f for f in tmp_path.iterdir() if f.name.startswith(".clues.csv")]


def test_add_takes_only_rows_a_person_confirmed(runner, small_corpus, tmp_path, trained):
    """A classify.py output (model labels) is refused as it is; with an 已核对 column only the
    rows marked 是 join the corpus, with the reviewer kept."""
    corpus = tmp_path / "clues.csv"
    base = _copy_corpus(small_corpus, corpus)
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    texts = ["2025年4月，安平县住建局对青石镇柳河村危房改造补助申请拖了五个月不办，村民王建国跑了六趟。",
             "城南派出所接到报警后两个小时才出警，嫌疑人早跑了。",
             "镇农经站会计把村里的土地流转款压在账上一年多不发给农户。"]
    pd.DataFrame({"text": texts}).to_csv(src, index=False)
    assert run_classify(runner, src, "-o", out, "--models", trained).exit_code == 0
    before = corpus.read_bytes()
    r = run_train(runner, "--add", out, "--corpus", corpus, "--models", _mkdir(tmp_path / "m"))
    assert r.exit_code != 0 and "已核对" in r.output and "--trust-labels" in r.output
    assert corpus.read_bytes() == before
    df = pd.read_csv(out, dtype=str, keep_default_na=False)
    df["已核对"] = ["是", "", "否"]
    df["核对人"] = ["李明", "", ""]
    df.to_csv(out, index=False)
    r = run_train(runner, "--add", out, "--corpus", corpus, "--models", _mkdir(tmp_path / "m"), "--force")
    assert r.exit_code == 0, r.output
    assert "2 行已填标签但未标为“已核对”" in r.output
    merged = pd.read_csv(corpus, dtype=str, keep_default_na=False)
    assert len(merged) == len(base) + 1
    row = merged.iloc[-1]
    assert row["text"] == texts[0] and row["reviewer"] == "李明" and row["added"]


def test_add_accepts_labels_as_people_type_them(runner, small_corpus, tmp_path):
    corpus = tmp_path / "clues.csv"
    base = _copy_corpus(small_corpus, corpus)
    add = tmp_path / "typed.csv"
    pd.DataFrame({"text": ["2025年6月，安平县医保局窗口对王建国的异地报销申请推了三次，每次要的材料都不一样。",
                           "青石镇社区主任把慰问困难户的米面油分给了自家亲戚。"],
                  "质量": ["合格", "合格"], "低质原因": ["", ""], "维度": ["懒、庸", "散｜软"],
                  "作为类型": ["不作为", "乱作为"], "东丽类别": ["d06", "基层"], "盐山类别": ["y5", "Y0"],
                  "已核对": ["是", "√"]}).to_csv(add, index=False)
    r = run_train(runner, "--add", add, "--corpus", corpus, "--models", _mkdir(tmp_path / "m"))
    # "基层" is not a code nor a name: refused with the accepted form, nothing merged
    assert r.exit_code != 0 and "第 3 行“东丽类别”列" in r.output and "大小写均可" in r.output
    df = pd.read_csv(add, dtype=str, keep_default_na=False)
    df.loc[1, "东丽类别"] = "D07"
    df.to_csv(add, index=False)
    r = run_train(runner, "--add", add, "--corpus", corpus, "--models", _mkdir(tmp_path / "m"), "--force")
    assert r.exit_code == 0, r.output
    merged = pd.read_csv(corpus, dtype=str, keep_default_na=False).iloc[len(base):]
    assert merged["维度"].tolist() == ["庸|懒", "散|软"]
    assert merged["东丽类别"].tolist() == ["D06", "D07"] and merged["盐山类别"].tolist() == ["Y5", "Y0"]
