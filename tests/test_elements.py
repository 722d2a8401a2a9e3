"""要素: the trained element tagger, its post-processing rules, the element columns and the
agreement of two annotators, through the API and the CLI a user calls."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pandas as pd
import pytest

from conftest import ROOT, run_classify
from nlp.elements import ELEMENTS, ElementExtractor
from nlp.elements.rules import Rules
from nlp.elements.tagger import ElementTagger
from nlp.segment import Tokenizer

COLUMNS = ["被反映对象", "时间", "地点", "具体行为", "后果"]

# Written for this test (not corpus rows): element pieces as an annotator marks them.
SMALL = [
    ("2023年5月，青石镇民政办对低保申请三个月不予答复。",
     {"时间": ["2023年5月"], "对象": ["青石镇民政办"], "具体行为": ["对低保申请三个月不予答复"]}),
    ("去年冬天，城关镇供暖办对居民报修拖了四十天，导致两户老人冻伤。",
     {"时间": ["去年冬天"], "对象": ["城关镇供暖办"], "具体行为": ["对居民报修拖了四十天"], "后果": ["两户老人冻伤"]}),
    ("柳河村会计刘某把补助款扣下一半，造成村民损失三千元。",
     {"对象": ["柳河村会计刘某"], "具体行为": ["把补助款扣下一半"], "后果": ["村民损失三千元"]}),
    ("今年三月，安平县住建局对小区违建投诉一直不处理。",
     {"时间": ["今年三月"], "对象": ["安平县住建局"], "具体行为": ["对小区违建投诉一直不处理"]}),
    ("希望领导重视一下", {}),
    ("县医保局王某在窗口拒不办理报销，让我跑了三趟。",
     {"对象": ["县医保局王某"], "地点": ["窗口"], "具体行为": ["拒不办理报销"], "后果": ["让我跑了三趟"]}),
]


def _spans(text, pieces):
    out = []
    for label, ps in pieces.items():
        for p in ps:
            s = text.index(p)
            out.append((label, s, s + len(p)))
    return out


@pytest.fixture(scope="module")
def small_tagger():
    texts = [t for t, _ in SMALL]
    return ElementTagger(max_iterations=60).fit(texts, [_spans(t, p) for t, p in SMALL], tokenizer=Tokenizer())


def test_tagger_fits_and_predicts_spans(small_tagger):
    texts = [t for t, _ in SMALL]
    pred = small_tagger.predict(texts)
    assert len(pred) == len(texts)
    # it learns its training rows: most gold spans come back exactly
    gold = [set(_spans(t, p)) for t, p in SMALL]
    hit = sum(len(g & set(p)) for g, p in zip(gold, pred))
    assert hit >= 0.8 * sum(map(len, gold))
    assert all(label in ELEMENTS and 0 <= s < e <= len(t) for t, p in zip(texts, pred) for label, s, e in p)
    # a text's spans do not depend on the batch it is in; empty texts have none
    alone = [small_tagger.predict([t])[0] for t in texts]
    assert alone == pred
    assert small_tagger.predict(["", texts[0], ""]) == [[], pred[0], []]


def test_long_input_stays_linear(small_tagger):
    text = "某县民政局对低保申请三个月不予答复，" * 6000  # 108,000 characters
    started = time.process_time()
    spans = small_tagger.predict([text])[0]
    assert spans and all(e <= len(text) for _, _, e in spans)
    assert time.process_time() - started < 20  # generous: a quadratic step would take minutes


def test_rules_drop_durations_fragments_and_short_spans():
    rules = Rules.load()
    text = "在大厅等了一个多小时，区某说上班时间长期不在，请组去处理"
    spans = [("时间", text.index("一个多小时"), text.index("一个多小时") + 5),
             ("时间", text.index("上班时间"), text.index("上班时间") + 4),
             ("时间", text.index("长期"), text.index("长期") + 2),
             ("对象", text.index("区某"), text.index("区某") + 2),
             ("地点", text.index("请组"), text.index("请组") + 2),
             ("具体行为", text.index("去"), text.index("去") + 1)]
    assert rules.clean(text, spans) == []
    kept = "2023年5月以来"
    assert rules.clean(kept + "没人管", [("时间", 0, len(kept))]) == [("时间", 0, len(kept))]


def test_place_falls_back_to_the_start_of_the_object():
    rules = Rules.load()
    text = "安平县住建局拖着不办"
    assert ("地点", 0, 3) in rules.clean(text, [("对象", 0, 6)])
    # a placeholder county alone is no place (ELEMENTS.md rule 2)
    assert not [s for s in rules.clean("某县住建局拖着不办", [("对象", 0, 5)]) if s[0] == "地点"]


def test_extractor_joins_several_pieces(small_tagger):
    ex = ElementExtractor(Tokenizer(), tagger=small_tagger)
    found = ex.extract("2023年5月，青石镇民政办对低保申请三个月不予答复，柳河村会计刘某把补助款扣下一半。")
    assert "；" in found["对象"] or "；" in found["具体行为"]
    assert ex.missing("") == list(ELEMENTS)


# ---------------------------------------------------------------- CLI, default model
def _elements_of(output: str) -> str:
    return next((x for x in output.splitlines() if x.startswith("已具备要素")), "")


@pytest.mark.parametrize("text,element", [
    ("暴雨后坑塘决口淹了20多户农田，村委会一直没人管", "后果"),
    ("小区井盖坏了半年物业一直不修，一名儿童险些坠落", "后果"),
])
def test_harm_is_found(runner, trained, text, element):
    r = run_classify(runner, "--text", text, "--models", trained)
    assert r.exit_code == 0, r.output
    assert f"{element}“" in _elements_of(r.output), r.output


@pytest.mark.parametrize("text,wrong", [
    ("在社保大厅排队等了一个多小时，窗口人员一直玩手机", "时间“一个多小时"),
    ("村干部长期不在岗，有事找不到人", "时间“长期"),
    ("某区某局工作人员上班时间打游戏", "时间“上班时间"),
    ("食堂饭菜太咸，希望管一管", "对象“太咸"),
    ("某区某局工作人员上班时间打游戏", "对象“区某"),
    ("请组织部门去查一下这个事", "地点“请组"),
    ("请组织部门去查一下这个事", "具体行为“去”"),
    ("在社区服务站等了两个多小时，工作人员一直没来", "时间“两个多小时"),
    ("村委会主任常年不在村里，有事找不到人", "时间“常年"),
    ("某局窗口人员工作时间看视频", "时间“工作时间"),
    ("部分干部作风漂浮，希望管一管", "对象“部分干部"),
    ("来电人反映：小区门口的路灯坏了一个月没人修", "后果“来电人反映"),
])
def test_no_false_elements(runner, trained, text, wrong):
    r = run_classify(runner, "--text", text, "--models", trained)
    assert r.exit_code == 0, r.output
    assert wrong not in _elements_of(r.output), r.output


def test_element_columns_before_missing_in_a_batch(runner, trained, tmp_path):
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    texts = ["2023年5月，青石镇安监站站长陈某对辖区化工厂危化品露天堆放的隐患一直不管，导致3名工人受伤。",
             "暴雨后坑塘决口淹了20多户农田，村委会一直没人管", ""]
    # an input column named like an output column is kept, renamed
    pd.DataFrame({"id": [1, 2, 3], "时间": ["2024-01-02"] * 3, "text": texts}).to_csv(src, index=False)
    r = run_classify(runner, src, "-o", out, "--models", trained)
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out, dtype=str, keep_default_na=False)
    cols = list(df.columns)
    assert cols[cols.index("缺失要素") - 5:cols.index("缺失要素")] == COLUMNS
    first = df.iloc[0]
    assert first["时间"] == "2023年5月" and "陈某" in first["被反映对象"] and "受伤" in first["后果"]
    assert all(first[c] for c in COLUMNS) and first["缺失要素"] == ""
    assert "后果" not in df.iloc[1]["缺失要素"] and df.iloc[1]["后果"]
    assert (df["原时间"] == "2024-01-02").all()  # an input column named like an output column is kept as 原…
    assert all(df.iloc[2][c] == "" for c in COLUMNS) and df.iloc[2]["缺失要素"] == "对象、时间、地点、具体行为、后果"


def test_agreement_command(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    text = "安平县住建局今年三月对违建投诉一直不处理"
    rows_a = [{"id": "X1", "text": text, "elements": {"对象": ["安平县住建局"], "时间": ["今年三月"],
                                                     "具体行为": ["对违建投诉一直不处理"]}},
              {"id": "X2", "text": "希望整治", "elements": {}}]
    rows_b = [{"id": "X1", "text": text, "spans": [{"label": "对象", "start": 0, "end": 6},
                                                   {"label": "具体行为", "start": 10, "end": 20}]},
              {"id": "X2", "text": "希望整治", "spans": []}]
    a.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows_a), encoding="utf-8")
    b.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows_b), encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "nlp.elements.agreement", str(a), str(b)], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    lines = {x.split()[0]: x.split() for x in done.stdout.splitlines() if x.split() and x.split()[0] in ELEMENTS}
    assert lines["对象"][1] == "1.000" and lines["时间"][1] == "0.500"  # presence agreement
    assert lines["具体行为"][2] == "1.000"  # span-overlap F1
    assert "共同 2 行" in done.stdout


def test_gate_with_a_trained_tagger_covers_long_texts():
    from nlp.quality import gate

    long_text = "我家房子拆迁已经五年了，还迁房到现在都没有分到，去问了好几次都说再等等，希望能快点解决"
    assert gate(long_text, {"对象": "", "具体行为": ""}) == ""  # patterns: short texts only
    assert gate(long_text, {"对象": "", "具体行为": ""}, trained=True) != ""
    assert gate(long_text, {"对象": "", "具体行为": "还迁房到现在都没有分到"}, trained=True) == ""
