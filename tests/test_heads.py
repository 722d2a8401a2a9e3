"""Per-head learner settings are data (nlp/data/heads.toml): what a user changes there is what trains."""

import pandas as pd
import pytest

from nlp.errors import UserError
from nlp.model import ClueClassifier
from nlp.training import row_groups

COLS = ["质量", "低质原因", "维度", "作为类型", "东丽类别", "盐山类别"]


@pytest.fixture(scope="module")
def rows(corpus_df):
    return corpus_df.sample(700, random_state=3)


def test_head_settings_choose_learner_features_and_stacking(rows, tmp_path):
    path = tmp_path / "heads.toml"
    path.write_text('[default]\nlearner = "svm"\nC = 0.5\n\n'
                    '[heads."作为类型"]\nlearner = "lr"\nC = 10\nstack = ["维度"]\noffsets = true\n\n'
                    '[heads."盐山类别"]\nlearner = "nbsvm"\nC = 0.1\nfeatures = "words"\n', encoding="utf-8")
    model = ClueClassifier(heads_path=str(path)).fit(rows["text"].tolist(), rows[COLS], groups=row_groups(rows))
    assert model.heads_["作为类型"].estimator.learner == "lr"
    assert model.heads_["盐山类别"].estimator.learner == "nbsvm"
    n = len(model.feature_names_)
    assert model.heads_["作为类型"].coef.shape[1] == n + 4  # the four 维度 scores appended
    words = model._columns("words")
    assert not model.heads_["盐山类别"].coef[:, ~words].any()  # character columns never used
    assert "作为类型" in model.offsets_
    texts = ["某县住建局对群众反映的小区违建问题三个月不予处理，多次投诉无人答复。", "同上"]
    X = model.transform(texts)
    pred = model.predict(texts, X=X)
    assert pred.loc[0, "作为类型"] in {"不作为", "慢作为", "乱作为", "假作为"}
    assert model.explain(X, pred)[0]  # evidence words still come from the shared features


def test_bad_head_settings_give_a_clear_message(rows, tmp_path):
    path = tmp_path / "heads.toml"
    path.write_text('[heads."作为类型"]\nlearner = "forest"\n', encoding="utf-8")
    with pytest.raises(UserError, match="learner"):
        ClueClassifier(heads_path=str(path)).fit(rows["text"].tolist(), rows[COLS])
