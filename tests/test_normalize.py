import re

import pytest

from conftest import SHARED
from nlp import normalize

SEEDS = sorted((SHARED / "seeds").glob("*.txt"))
PINYIN = re.compile(r"\([a-zāáǎàōóǒòēéěèīíǐìūúǔùǖǘǚǜü]{1,7}\)")


def seed(prefix: str) -> str:
    return next(p for p in SEEDS if p.name.startswith(prefix)).read_text(encoding="utf-8")


@pytest.fixture(scope="module", autouse=True)
def need_seeds():
    if not SEEDS:
        pytest.skip("shared/seeds not present beside the project")


def test_every_seed_loses_pinyin_and_traditional():
    for p in SEEDS:
        out = normalize(p.read_text(encoding="utf-8"))
        assert not PINYIN.search(out), p.name
    for prefix in ("001", "002"):
        out = normalize(seed(prefix))
        assert not set("擔懶軟當實") & set(out), prefix
    assert "不作为不担当" in normalize(seed("001"))


def test_genuine_parentheses_survive():
    out = normalize(seed("000"))
    assert "(2018—2020年)" in out
    assert "(以下简称“专项治理三年行动”)" in out


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
