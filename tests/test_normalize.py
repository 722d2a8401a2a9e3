import re

import pytest

from conftest import ROOT, SHARED
from nlp import normalize

SEEDS = sorted((SHARED / "seeds").glob("*.txt"))
PINYIN = re.compile(r"\([a-zāáǎàōóǒòēéěèīíǐìūúǔùǖǘǚǜü]{1,7}\)")


def seed(prefix: str) -> str:
    return next(p for p in SEEDS if p.name.startswith(prefix)).read_text(encoding="utf-8")


OWN = (ROOT / "tests" / "data" / "traditional_pinyin.txt").read_text(encoding="utf-8")  # written by us
seeds_needed = pytest.mark.skipif(not SEEDS, reason="shared/seeds not present beside the project")


def test_traditional_with_pinyin_becomes_clean_simplified():
    out = normalize(OWN)
    assert not PINYIN.search(out) and "?gàn)" not in out
    assert not set("擔懶軟當實幹關於為") & set(out)
    assert "不作为不担当" in out and "懒政怠政、软弱涣散" in out and "弄虚作假的单位" in out
    assert "(2021—2023年)" in out and "(以下简称“专项整治”)" in out  # real parentheses stay
    assert out.count("\n") == 4  # one line per paragraph: case splitting reads them
    assert normalize(out) == out


@seeds_needed
def test_every_seed_loses_pinyin_and_traditional():
    for p in SEEDS:
        out = normalize(p.read_text(encoding="utf-8"))
        assert not PINYIN.search(out), p.name
    for prefix in ("001", "002"):
        out = normalize(seed(prefix))
        assert not set("擔懶軟當實") & set(out), prefix
    assert "不作为不担当" in normalize(seed("001"))


@seeds_needed
def test_genuine_parentheses_survive():
    out = normalize(seed("000"))
    assert "(2018—2020年)" in out
    assert "(以下简称“专项治理三年行动”)" in out


@seeds_needed
def test_idempotent_on_seeds():
    for p in SEEDS:
        once = normalize(p.read_text(encoding="utf-8"))
        assert normalize(once) == once


@pytest.mark.parametrize("text", ["", " ", "\n\t ", "😀😀🎉", "abc不作為ＡＢＣ１２３Ωж", "<p>&amp;&lt;</p>", "\x00\u200b",
                                  "(ā)" * 10, "一" * 1_000_000])
def test_bad_strings_never_raise(text):
    out = normalize(text)
    assert isinstance(out, str)
    assert normalize(out) == out


def test_common_cases():
    assert normalize("不作為不擔(dān)當(dāng)") == "不作为不担当"
    assert normalize("<b>窗口</b>&nbsp;人员") == "窗口人员"
    assert normalize("ＡＢＣ　１２３") == "ABC 123"
    assert normalize("不 作 为") == "不作为"
    assert normalize("方案(试行)") == "方案(试行)"
