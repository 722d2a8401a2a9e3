import re

import pytest

from conftest import ROOT, SHARED
from nlp import Tokenizer, normalize
from nlp.segment import available_backends

SEEDS = sorted((SHARED / "seeds").glob("*.txt"))


@pytest.mark.skipif(available_backends() != ["rjieba", "jieba"], reason="both backends needed")
def test_backends_identical(corpus_df):
    """Identical tokens on our own documents (and the seeds when present); on corpus rows only
    runs like "200-500" or "www.x.cn" differ (jieba splits them at the punctuation), apart from a
    rare unknown-word decision of the HMM (1 of 7,962 rows: 常在 vs 常/在)."""
    r, j = Tokenizer("rjieba"), Tokenizer("jieba")
    docs = sorted((ROOT / "tests" / "data").glob("*.txt")) + SEEDS
    for p in docs:
        text = normalize(p.read_text(encoding="utf-8"))
        assert r.lcut(text) == j.lcut(text), p.name
    rows = [normalize(t) for t in corpus_df["text"]]
    differ = [t for t in rows if r.lcut(t) != j.lcut(t)]
    assert len(differ) <= len(rows) // 500
    other = [t for t in differ if not re.search(r"[0-9A-Za-z][-.][0-9A-Za-z]", t)]
    assert len(other) <= max(1, len(rows) // 5000)


@pytest.mark.parametrize("backend", ["rjieba", "jieba"])
def test_domain_terms_are_one_token(backend):
    tokens = Tokenizer(backend).lcut("坚决整治不作为、慢作为和吃拿卡要、推诿扯皮问题，防止纸上整改")
    for term in ("不作为", "慢作为", "吃拿卡要", "推诿扯皮", "纸上整改"):
        assert term in tokens


def test_default_backend_is_rjieba():
    assert Tokenizer().backend_name == "rjieba"


def test_words_drop_stopwords_and_punctuation():
    words = Tokenizer().words("我们的窗口，推诿扯皮！")
    assert "的" not in words and "，" not in words and "推诿扯皮" in words
