"""Stage: features. Turn normalised texts into one sparse matrix (scikit-learn transformers).

- words: segmented words (domain dictionary loaded) and word bigrams, TF-IDF.
- chars: character 1-3 grams, TF-IDF (robust to segmentation errors and typos).
- cues: counts of each taxonomy code's cue terms (``cues`` in taxonomy.toml).
"""

from __future__ import annotations

import re

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.pipeline import FeatureUnion

from nlp.segment import Tokenizer
from nlp.taxonomy import Taxonomy


class WordAnalyzer:
    """Callable analyzer: words and adjacent word pairs (picklable, unlike a lambda)."""

    def __init__(self, tokenizer: Tokenizer, bigrams: bool = True):
        self.tokenizer = tokenizer
        self.bigrams = bigrams

    def __call__(self, text: str) -> list[str]:
        words = self.tokenizer.words(text)
        if self.bigrams and len(words) > 1:
            return words + [a + " " + b for a, b in zip(words, words[1:])]
        return words


class FastTfidfVectorizer(TfidfVectorizer):
    """TfidfVectorizer with a faster ``transform``: vocabulary look-ups through ``map`` and one
    sparse construction per batch. Gives exactly scikit-learn's matrix (a test checks)."""

    def transform(self, raw_documents):
        analyze = self.build_analyzer()
        get = self.vocabulary_.get
        indices: list[int] = []
        indptr = [0]
        for doc in raw_documents:
            indices.extend(i for i in map(get, analyze(doc)) if i is not None)
            indptr.append(len(indices))
        X = sp.csr_matrix((np.ones(len(indices), dtype=np.float64), np.asarray(indices, dtype=np.int64),
                           np.asarray(indptr, dtype=np.int64)), shape=(len(indptr) - 1, len(self.vocabulary_)))
        X.sum_duplicates()
        return self._tfidf.transform(X, copy=False)


class CueCounter(BaseEstimator, TransformerMixin):
    """Counts of cue terms per (scheme, code), log-scaled. Stateless apart from the term list."""

    def __init__(self, cues: tuple[tuple[str, str, str], ...] = ()):
        self.cues = cues

    def fit(self, X, y=None):
        keys = sorted({(s, c) for s, c, _ in self.cues})
        self.columns_ = {k: i for i, k in enumerate(keys)}
        self.term_columns_: dict[str, list[int]] = {}
        for s, c, t in self.cues:
            self.term_columns_.setdefault(t, []).append(self.columns_[(s, c)])
        terms = sorted(self.term_columns_, key=len, reverse=True)
        self.pattern_ = re.compile("|".join(map(re.escape, terms))) if terms else None
        return self

    def transform(self, X):
        rows, cols, vals = [], [], []
        find, term_columns = (self.pattern_.findall if self.pattern_ else (lambda t: [])), self.term_columns_
        for i, text in enumerate(X):
            counts: dict[int, int] = {}
            for term in find(text):
                for col in term_columns[term]:
                    counts[col] = counts.get(col, 0) + 1
            for col, n in counts.items():
                rows.append(i)
                cols.append(col)
                vals.append(n)
        m = sp.csr_matrix((np.log1p(np.asarray(vals, dtype=np.float64)), (rows, cols)),
                          shape=(len(X), len(self.columns_)), dtype=np.float64)
        return m

    def get_feature_names_out(self, input_features=None):
        names = [""] * len(self.columns_)
        for (s, c), i in self.columns_.items():
            names[i] = f"{s}={c}"
        return np.array(names, dtype=object)


def make_features(tokenizer: Tokenizer, taxonomy: Taxonomy, max_chars: int = 120_000,
                  max_words: int = 80_000) -> FeatureUnion:
    """The feature union every head shares."""
    return FeatureUnion([
        ("words", FastTfidfVectorizer(analyzer=WordAnalyzer(tokenizer), min_df=2, max_features=max_words,
                                  sublinear_tf=True, dtype=np.float64)),
        ("chars", FastTfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, max_features=max_chars,
                                  sublinear_tf=True, dtype=np.float64)),
        ("cues", CueCounter(tuple(taxonomy.cue_terms()))),
    ])
