"""Verification: are two similar reports one matter?

A candidate pair (found by the fingerprints) gets a score from five features:

- word TF-IDF cosine and character-bigram TF-IDF cosine of the canonical texts (document
  frequencies from the bundled corpus, ``nlp/data/dedupe_df.tsv``);
- agreement of the extracted 对象, 地点 and 时间 (an ``extract(text) -> {element: found text}``
  extractor, ``nlp/elements.py`` by default): +1 when the two agree, -1 when both name one and they
  differ, 0 when either says nothing — a vaguer re-telling is not held against a pair;
- agreement of the numbers both texts state (amounts, counts, dates): two similar failures in
  another village or year differ here.

A logistic function of the features (weights and the threshold in ``nlp/data/dedupe.toml``,
fitted on the tune part of ``corpora/duplicates.csv`` with :meth:`Verifier.fit`) is the
similarity shown to the user; pairs at or above the threshold are one matter.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from nlp.dedupe.fingerprint import canonical, document_frequencies

FEATURES = ("词", "字", "罕见词", "名称", "对象", "地点", "时间", "年月", "数字")
COMPARED = ("对象", "地点", "时间")
_NUMBER = re.compile(r"\d+")
_YEAR_MONTH = re.compile(r"(?:19|20)\d{2}年|(?<!\d)\d{1,2}月")


@dataclass
class Doc:
    """What verification needs of one report; rebuilt cheaply from the stored canon and elements."""

    canon: str
    elements: dict
    words: dict  # term -> tf-idf weight, unit length
    chars: dict
    numbers: frozenset
    rare: frozenset  # words the corpus has (almost) never seen: names of people, places, units
    names: frozenset  # (kind, name) of named places, units and people: (村, 青石村), (人:书记, 王)
    dates: frozenset  # years and months stated


@lru_cache(maxsize=2)
def _idf(path: str | None) -> tuple[dict, float]:
    n, df = document_frequencies(path)
    return {t: math.log((n + 1) / (c + 1)) for t, c in df.items()}, math.log(n + 1)


@lru_cache(maxsize=64)
def _pairs_index(n: int):
    return np.triu_indices(n)


def _weights(counts: Counter, idf: dict, unseen: float) -> dict:
    get = idf.get
    w = {t: (1 + math.log(c)) * get(t, unseen) if c > 1 else get(t, unseen) for t, c in counts.items()}
    norm = math.sqrt(sum(v * v for v in w.values())) or 1.0
    return {t: v / norm for t, v in w.items()}


def _cosine(a: dict, b: dict) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(t, 0.0) for t, v in a.items())


def _sparse_rows(weights: list[dict]):
    """A CSR matrix with one row per weight dict (columns: the terms met, in order)."""
    from scipy import sparse

    vocab: dict = {}
    lengths = np.fromiter((len(d) for d in weights), dtype=np.int64, count=len(weights))
    total = int(lengths.sum())
    cols = np.fromiter((vocab.setdefault(t, len(vocab)) for d in weights for t in d), dtype=np.int64, count=total)
    vals = np.fromiter((v for d in weights for v in d.values()), dtype=np.float64, count=total)
    return sparse.csr_matrix((vals, cols, np.r_[0, np.cumsum(lengths)]), shape=(len(weights), max(len(vocab), 1)))


def _overlap(part: str, text: str) -> float:
    """Share of the character bigrams of ``part`` that occur in ``text``."""
    grams = {part[i:i + 2] for i in range(len(part) - 1)}
    return sum(g in text for g in grams) / len(grams) if grams else 0.0


def _typed(x: frozenset, y: frozenset) -> float:
    """Named things grouped by kind (村, 局, a person's surname, ...): -1 when some kind is named
    in both texts with no name in common (another village, another unit), +1 when the kinds named
    in both agree, 0 when no kind is named in both."""
    kinds = {k for k, _ in x} & {k for k, _ in y}
    if not kinds:
        return 0.0
    for kind in kinds:
        if not {n for k, n in x if k == kind} & {n for k, n in y if k == kind}:
            return -1.0
    return 1.0


def _sets(x: frozenset, y: frozenset) -> float:
    """+1 when two stated sets share a member, -1 when both are stated and share none, else 0."""
    if not x or not y:
        return 0.0
    return 1.0 if x & y else -1.0


def _agreement(x: str, y: str, doc_x: Doc, doc_y: Doc, name: str) -> float:
    if not x or not y:
        return 0.0
    if name == "时间":
        nx, ny = set(_NUMBER.findall(x)), set(_NUMBER.findall(y))
        if nx and ny:
            return 1.0 if nx & ny else -1.0
        return 0.0
    v = max(_overlap(x, doc_y.canon), _overlap(y, doc_x.canon))
    return 2.0 * v - 1.0


@lru_cache(maxsize=4)
def _names(pattern: str) -> re.Pattern:
    return re.compile(pattern or "(?!)")


class Verifier:
    """Score candidate pairs; sklearn-like (``fit`` on labelled pairs, ``predict``).

    Parameters
    ----------
    tokenizer : nlp.segment.Tokenizer for the word features.
    extractor : object with ``extract(text) -> {element name: found text}``.
    coef, intercept : logistic weights of the features (order of ``FEATURES``) and their pairwise
        products (upper triangle, row by row).
    C : inverse regularisation strength used by ``fit``.
    min_char_cosine : pairs whose character cosine is lower score 0 without the other features.
    threshold : similarity at or above which a pair is one matter.
    df_path : document-frequency file; default the bundled one.
    """

    def __init__(self, tokenizer, extractor, coef=None, intercept: float = 0.0, threshold: float = 0.5,
                 df_path: str | None = None, rare_df: int = 2, names: str = "", name_chars: int = 3,
                 persons: str = "", C: float = 1.0, min_char_cosine: float = 0.0):
        self.tokenizer = tokenizer
        self.extractor = extractor
        self.coef = coef
        self.intercept = intercept
        self.threshold = threshold
        self.df_path = df_path
        self.rare_df = rare_df
        self.names = names
        self.name_chars = name_chars
        self.persons = persons
        self.C = C
        self.min_char_cosine = min_char_cosine

    # ------------------------------------------------------------------ docs
    def elements(self, normalized: str) -> dict:
        found = self.extractor.extract(normalized) if normalized else {}
        return {k: canonical(found.get(k, "") or "") for k in COMPARED}

    def doc(self, canon: str, elements: dict) -> Doc:
        n, df = document_frequencies(self.df_path)
        idf, unseen = _idf(self.df_path)
        words = Counter("w:" + w for w in self.tokenizer.words(canon) if len(w) > 1 or w.isdigit())
        chars = Counter("c:" + canon[i:i + 2] for i in range(len(canon) - 1))
        numbers = frozenset(m for m in _NUMBER.findall(canon) if len(m) > 1 or m != "1")
        rare = frozenset(w for w in words if df.get(w, 0) <= self.rare_df and not w[2:].isdigit())
        names = {(m.group(1), m.group(0)[-self.name_chars:]) for m in _names(self.names).finditer(canon)}
        names.update(("人:" + m.group(2), m.group(1)) for m in _names(self.persons).finditer(canon))
        names = frozenset(names)
        return Doc(canon, elements, _weights(words, idf, unseen), _weights(chars, idf, unseen), numbers, rare, names,
                   frozenset(_YEAR_MONTH.findall(canon)))

    def prepare(self, text: str) -> Doc:
        from nlp.normalize import normalize

        norm = normalize(text if isinstance(text, str) else str(text))
        return self.doc(canonical(norm), self.elements(norm))

    # ------------------------------------------------------------- scoring
    def features(self, a: Doc, b: Doc) -> np.ndarray:
        return np.array([_cosine(a.words, b.words), _cosine(a.chars, b.chars)] + self._set_features(a, b))

    @staticmethod
    def _set_features(a: Doc, b: Doc) -> list:
        """The features after the two cosines (shared rare words, names, elements, dates, numbers)."""
        out = [len(a.rare & b.rare) / min(len(a.rare), len(b.rare)) if a.rare and b.rare else 0.0]
        out.append(_typed(a.names, b.names))
        out += [_agreement(a.elements.get(k, ""), b.elements.get(k, ""), a, b, k) for k in COMPARED]
        out.append(_sets(a.dates, b.dates))
        if a.numbers and b.numbers:
            out.append(len(a.numbers & b.numbers) / min(len(a.numbers), len(b.numbers)) * 2 - 1)
        else:
            out.append(0.0)
        return out

    def expanded(self, a: Doc, b: Doc) -> np.ndarray:
        """The features and their pairwise products (a name conflict weighs more when the texts
        are alike: the logistic function sees such interactions only through the products)."""
        f = self.features(a, b)
        return np.concatenate([f, np.outer(f, f)[_pairs_index(len(f))]])

    def similarity(self, a: Doc, b: Doc) -> float:
        if a.canon == b.canon and a.canon:
            return 1.0  # the same text again (punctuation, script and number format aside)
        if _cosine(a.chars, b.chars) < self.min_char_cosine:
            return 0.0  # too little in common to be one matter: no need for the other features
        z = float(np.dot(self.coef, self.expanded(a, b))) + self.intercept
        return 1.0 / (1.0 + math.exp(-z))

    def similarities(self, docs_a: list[Doc], docs_b: list[Doc]) -> np.ndarray:
        """``similarity`` of many pairs at once (the same values, computed in bulk)."""
        index: dict[int, int] = {}
        docs: list[Doc] = []
        for d in (*docs_a, *docs_b):
            if index.setdefault(id(d), len(docs)) == len(docs):
                docs.append(d)
        a = np.fromiter((index[id(d)] for d in docs_a), dtype=np.int64, count=len(docs_a))
        b = np.fromiter((index[id(d)] for d in docs_b), dtype=np.int64, count=len(docs_b))
        return self.similarities_indexed(docs, a, b)

    def similarities_indexed(self, docs: list[Doc], a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Similarity of the pairs (docs[a[k]], docs[b[k]]): the cosines as products of sparse
        rows (one row a document), the logistic function on the whole feature matrix."""
        out = np.zeros(len(a))
        if not len(a):
            return out
        words, chars = _sparse_rows([d.words for d in docs]), _sparse_rows([d.chars for d in docs])
        cos_w = np.asarray(words[a].multiply(words[b]).sum(axis=1)).ravel()
        cos_c = np.asarray(chars[a].multiply(chars[b]).sum(axis=1)).ravel()
        canon = [d.canon for d in docs]
        same = np.array([canon[x] == canon[y] and bool(canon[x]) for x, y in zip(a.tolist(), b.tolist())], dtype=bool)
        live = np.flatnonzero(~same & (cos_c >= self.min_char_cosine))
        if len(live):
            rest = np.array([self._set_features(docs[a[k]], docs[b[k]]) for k in live.tolist()], dtype=float)
            f = np.column_stack([cos_w[live], cos_c[live], rest])
            i, j = _pairs_index(f.shape[1])
            z = np.concatenate([f, f[:, i] * f[:, j]], axis=1) @ np.asarray(self.coef, dtype=float) + self.intercept
            out[live] = 1.0 / (1.0 + np.exp(-z))
        out[same] = 1.0
        return out

    def fit(self, docs_a: list[Doc], docs_b: list[Doc], same) -> "Verifier":
        """Fit the logistic weights on labelled pairs (the tune part of the pairs file)."""
        from sklearn.linear_model import LogisticRegression

        X = np.stack([self.expanded(a, b) for a, b in zip(docs_a, docs_b)])
        lr = LogisticRegression(C=self.C, max_iter=5000).fit(X, np.asarray(same, dtype=int))
        self.coef, self.intercept = lr.coef_[0].tolist(), float(lr.intercept_[0])
        return self

    def predict(self, docs_a: list[Doc], docs_b: list[Doc]) -> np.ndarray:
        return np.array([self.similarity(a, b) >= self.threshold for a, b in zip(docs_a, docs_b)])
