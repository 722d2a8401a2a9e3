"""要素“对象”: the unit/post lexicon (nlp/data/units.txt), the 对象 fallback of the rules, and the
extractor of the default model on short informal unit names, durations and fragments.
Texts written for these tests (not corpus rows)."""

from __future__ import annotations

import pytest

from conftest import run_classify
from test_elements import _elements_of
from nlp.elements.rules import Rules
from nlp.elements.units import Units


def _at(text, piece, label):
    start = text.index(piece)
    return (label, start, start + len(piece))


def test_lexicon_words_and_suffixes():
    units = Units.load()
    assert {"街道", "县里", "镇上", "城管", "物业", "派出所", "网格员"} <= set(units.words)
    assert {"局", "中心", "窗口"} <= set(units.suffixes)
    assert units.whole.fullmatch("东渚区行政服务中心") and units.whole.fullmatch("县里")
    assert not units.whole.fullmatch("柳河村") and not units.whole.fullmatch("三个月不予处理")
    assert units.head.match("县里一拖就是大半年").group(0) == "县里"
    assert units.head.match("交通厅派人来刷了一层沥青").group(0) == "交通厅"


def test_place_naming_an_office_becomes_the_object():
    rules = Rules.load()
    text = "周一上午到安溪区行政服务中心办社保，等到快九点才有人来"
    out = rules.clean(text, [_at(text, "安溪区行政服务中心", "地点"), _at(text, "等到快九点才有人来", "具体行为")])
    assert _at(text, "安溪区行政服务中心", "对象") in out
    assert ("地点", text.index("安溪区"), text.index("安溪区") + 3) in out  # rule 1 from the 对象
    # with a 对象 already found, the place stays a place
    out = rules.clean(text, [_at(text, "安溪区行政服务中心", "地点"), _at(text, "等到快九点才有人来", "具体行为"),
                             ("对象", 0, 2)])
    assert _at(text, "安溪区行政服务中心", "地点") in out


def test_unit_opening_an_act_is_split_off():
    rules = Rules.load()
    text = "补偿款的事县里一拖就是大半年"
    out = rules.clean(text, [_at(text, "县里一拖就是大半年", "具体行为")])
    assert _at(text, "县里", "对象") in out and _at(text, "一拖就是大半年", "具体行为") in out


def test_lexicon_word_opening_a_clause():
    rules = Rules.load()
    text = "楼下积水半个月了，街道一直不管"
    assert _at(text, "街道", "对象") in rules.clean(text, [])
    # the reporter's own side and vague quantifiers are no 对象, not even inside another span
    text = "我们村里的路坏了三年"
    assert not [s for s in rules.clean(text, [_at(text, "村里的路坏了三年", "后果")]) if s[0] == "对象"]
    assert not [s for s in rules.clean("个别干部作风不实", [("对象", 0, 4)]) if s[0] == "对象"]


def test_place_cut_out_of_a_word_is_dropped():
    rules = Rules.load()
    text = "热线通报：其中区政府一家就有4件逾期"
    assert not [s for s in rules.clean(text, [_at(text, "其中区", "地点")]) if s[0] == "地点"]
    # nor is a place taken from the start of a 对象 that cuts a post title ("某县分管副县|长")
    text = "凤岭县分管副县长带队检查后没有下文"
    assert not [s for s in rules.clean(text, [_at(text, "凤岭县分管副县长", "对象")]) if s[0] == "地点"]
    text = "在青石镇柳河村的村口"
    assert _at(text, "青石镇柳河村", "地点") in rules.clean(text, [_at(text, "青石镇柳河村", "地点")])


def test_reporting_formula_is_no_harm():
    rules = Rules.load()
    text = "来电人反映：小区路灯坏了"
    assert not [s for s in rules.clean(text, [("后果", 0, 5)]) if s[0] == "后果"]


# ---------------------------------------------------------------- the default model, CLI
@pytest.mark.parametrize("text,piece", [
    ("街道对积水问题一直不管", "对象“街道"),
    ("小区楼道灯坏了两个月，物业一直不修", "对象“物业"),
    ("去年申请的危房改造补助，镇上到现在也没发", "对象“镇上"),
    ("在派出所户籍窗口排了一上午，窗口工作人员一直在聊天", "对象“"),
])
def test_informal_units_are_objects(runner, trained, text, piece):
    r = run_classify(runner, "--text", text, "--models", trained)
    assert r.exit_code == 0, r.output
    assert piece in _elements_of(r.output), r.output

