"""The evidence gate of 质量: fragments that are not clues come out 低质 with 质量分 < 20, through
the CLI a user calls; real clues, short or colloquial, are not touched by it."""

from __future__ import annotations

import pandas as pd

from conftest import run_classify
from nlp.quality import gate

# Fragments and fillers as real intake systems receive them (written for this test, not corpus rows).
FRAGMENTS = ["某区", "2023年", "某县住建局", "县里", "无", "12345", "同上", "测试", "详见附件", "。。。",
             "反映内容：", "青石镇柳河村", "2024年3月5日", "城南派出所", "13800138000", "？？", "1", "某某",
             "安平县", "见上"]


def test_fragments_are_refused_through_the_cli(runner, trained, tmp_path):
    src, out = tmp_path / "frag.csv", tmp_path / "out.csv"
    pd.DataFrame({"id": range(len(FRAGMENTS)), "text": FRAGMENTS}).to_csv(src, index=False)
    r = run_classify(runner, src, "-o", out, "--models", trained)
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert len(df) == len(FRAGMENTS)
    assert (df["质量"] == "低质").all(), df[df["质量"] != "低质"]["text"].tolist()
    assert (df["质量分"].astype(int) < 20).all(), df[["text", "质量分"]]
    assert (df["维度"] == "").all() and (df["作为类型"] == "").all()


def test_gate_leaves_checkable_clues_alone():
    # short but checkable: a unit or a post, and an act
    assert gate("城南派出所接警后两小时没出警", {"对象": "城南派出所", "具体行为": "没出警"}) == ""
    assert gate("村会计把补助款扣下了一半", {"对象": "会计", "具体行为": "扣下"}) == ""
    # no unit and no act in a short text
    assert gate("青石镇柳河村的事情", {"对象": "", "具体行为": ""}) != ""
    # a long colloquial complaint is the model's call, not the gate's
    long_text = "我家房子拆迁已经五年了，还迁房到现在都没有分到，去问了好几次都说再等等"
    assert gate(long_text, {"对象": "", "具体行为": ""}) == ""


def test_bulletin_gets_no_questions_but_a_clue_does(runner, trained):
    r = run_classify(runner, "--text", "经查，安平县民政局低保股股长张某对群众的低保申请拖了半年不审核，给予政务警告处分。",
                     "--models", trained)
    assert r.exit_code == 0, r.output
    assert "建议向反映人补问" not in r.output
    r = run_classify(runner, "--text", "安平县民政局对我的低保申请拖了半年不审核", "--models", trained)
    assert r.exit_code == 0 and "建议向反映人补问" in r.output
