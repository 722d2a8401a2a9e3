"""The fast feature transforms must give exactly scikit-learn's matrices."""

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from nlp.features import FastTfidfVectorizer, WordAnalyzer
from nlp.segment import Tokenizer

TEXTS = [
    "某县民政局对低保申请长期不予答复，群众多次到窗口询问。",
    "Ａ镇  干部\t\t上班玩手机，ABC 打游戏",
    "",
    "短",
    "两字",
    "𠀋𠀋𠀋 罕见字与emoji😀混排，含\n换行和  多个   空格。",
    "2023年3月，某某局王某拖延审批，造成损失5万元。",
]
UNSEEN = TEXTS + ["完全没见过的字符组合：龘靐齉", "😀😀", "ABC abc", "一"]


def _same(a, b):
    a, b = a.tocsr(), b.tocsr()
    a.sort_indices()
    b.sort_indices()
    assert a.shape == b.shape
    assert (a != b).nnz == 0 or np.allclose(a.toarray(), b.toarray(), rtol=0, atol=1e-12)


def test_char_ngrams_equal_sklearn():
    for rng in [(1, 3), (2, 3), (1, 1), (3, 3)]:
        kw = dict(analyzer="char", ngram_range=rng, min_df=1, sublinear_tf=True)
        ours = FastTfidfVectorizer(**kw).fit(TEXTS)
        ref = TfidfVectorizer(**kw).fit(TEXTS)
        assert ours.vocabulary_ == ref.vocabulary_
        _same(ours.transform(UNSEEN), ref.transform(UNSEEN))
        _same(ours.transform(UNSEEN[3:5]), ref.transform(UNSEEN[3:5]))


def test_word_features_equal_sklearn():
    analyzer = WordAnalyzer(Tokenizer())
    ours = FastTfidfVectorizer(analyzer=analyzer, sublinear_tf=True).fit(TEXTS)
    ref = TfidfVectorizer(analyzer=analyzer, sublinear_tf=True).fit(TEXTS)
    _same(ours.transform(UNSEEN), ref.transform(UNSEEN))


def test_empty_batch():
    v = FastTfidfVectorizer(analyzer="char", ngram_range=(1, 3)).fit(TEXTS)
    assert v.transform([]).shape == (0, len(v.vocabulary_))
    assert v.transform([""]).nnz == 0
