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
from functools import lru_cache

import numpy as np

from nlp.dedupe.bulk import set_features
from nlp.dedupe.docs import Doc, build_docs, cosine as _cosine, sparse_rows as _sparse_rows
from nlp.dedupe.fingerprint import canonical

FEATURES = ("词", "字", "罕见词", "名称", "对象", "地点", "时间", "年月", "数字")
COMPARED = ("对象", "地点", "时间")
_NUMBER = re.compile(r"\d+")


@lru_cache(maxsize=64)
def _pairs_index(n: int):
    return np.triu_indices(n)


@lru_cache(maxsize=1 << 16)
def _grams(part: str) -> tuple:
    return tuple({part[i:i + 2] for i in range(len(part) - 1)})


@lru_cache(maxsize=1 << 16)
def _numbers(part: str) -> frozenset:
    return frozenset(_NUMBER.findall(part))


def _overlap(part: str, text: str) -> float:
    """Share of the character bigrams of ``part`` that occur in ``text``."""
    grams = _grams(part)
    return sum(map(text.__contains__, grams)) / len(grams) if grams else 0.0


def _typed(x: frozenset, y: frozenset) -> float:
    """Named things grouped by kind (村, 局, a person's surname, ...): -1 when some kind is named
    in both texts with no name in common (another village, another unit), +1 when the kinds named
    in both agree, 0 when no kind is named in both."""
    if not x or not y:
        return 0.0
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
        nx, ny = _numbers(x), _numbers(y)
        if nx and ny:
            return 1.0 if nx & ny else -1.0
        return 0.0
    v = max(_overlap(x, doc_y.canon), _overlap(y, doc_x.canon))
    return 2.0 * v - 1.0


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
        """The compared elements (canonical text, "" when absent) of one normalised text."""
        return self.elements_many([normalized])[0]

    def elements_many(self, normalized: list[str]) -> list[dict]:
        """``elements`` of many texts, extracted as one batch (the pattern extractor looks for the
        compared elements only)."""
        if getattr(self.extractor, "tagger", True) is None:
            from nlp.elements.patterns import RegexExtractor

            regex = RegexExtractor(self.extractor.tokenizer, self.extractor.patterns)
            found = [regex.extract(t, only=COMPARED) if t else {} for t in normalized]
        elif hasattr(self.extractor, "extract_many"):
            found = self.extractor.extract_many(normalized)
        else:
            found = [self.extractor.extract(t) for t in normalized]
        return [{k: canonical(f[k], normalized=True) if t and f.get(k) else "" for k in COMPARED}
                for t, f in zip(normalized, found)]

    def docs(self, canons: list[str], elements: list[dict]) -> list[Doc]:
        """The verification documents of canonical texts and their elements (built as one batch)."""
        return build_docs(canons, elements, self.tokenizer, self.df_path, self.rare_df, self.names,
                          self.name_chars, self.persons)

    def doc(self, canon: str, elements: dict) -> Doc:
        return self.docs([canon], [elements])[0]

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
        return round(1.0 / (1.0 + math.exp(-z)), 12)  # rounded: the bulk path sums in another order

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
            rest = set_features(docs, a[live], b[live], _NUMBER)
            f = np.column_stack([cos_w[live], cos_c[live], rest])
            i, j = _pairs_index(f.shape[1])
            z = np.concatenate([f, f[:, i] * f[:, j]], axis=1) @ np.asarray(self.coef, dtype=float) + self.intercept
            out[live] = np.round(1.0 / (1.0 + np.exp(-z)), 12)
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
