"""Stage: features. Turn normalised texts into one sparse matrix (scikit-learn transformers).

- words: segmented words (domain dictionary loaded) and word bigrams, TF-IDF.
- chars: character 1-3 grams, TF-IDF (robust to segmentation errors and typos).
- cues: counts of each taxonomy code's cue terms (``cues`` in taxonomy.toml).
"""

from __future__ import annotations

import re
from itertools import repeat

import numpy as np
import pandas as pd
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
    """TfidfVectorizer with a faster ``transform`` that gives exactly scikit-learn's matrix
    (tests/test_features.py checks).

    - character n-grams (``analyzer="char"``): every text of a batch becomes one array of code
      points; each n-gram is packed into one 63-bit integer (21 bits a character) and looked up
      in a hash table (``pandas.Index.get_indexer``), so no n-gram string is ever built;
    - any other analyzer: vocabulary look-ups through ``map`` and one sparse construction.
    """

    _BITS = 21  # every Unicode code point fits in 21 bits; three fit in an int64

    # Pickled state: the vocabulary as one array of terms (index order) rather than a dict of
    # tens of thousands of strings, which joblib's pure-Python unpickler reads ten times slower.
    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_char_tables", None)  # rebuilt from vocabulary_ on first use
        vocab = state.get("vocabulary_")
        if isinstance(vocab, dict) and vocab:
            terms = sorted(vocab, key=vocab.__getitem__)
            if [vocab[t] for t in terms] == list(range(len(terms))) and not any("\x00" in t for t in terms):
                state["vocabulary_"] = np.array(terms, dtype=str)
        return state

    def __setstate__(self, state):
        vocab = state.get("vocabulary_")
        if isinstance(vocab, np.ndarray):
            state = dict(state, vocabulary_={t: i for i, t in enumerate(vocab.tolist())})
        self.__dict__.update(state)

    def transform(self, raw_documents):
        if self._vectorised_chars():
            counts = self._char_counts(raw_documents)
        else:
            counts = self._generic_counts(raw_documents)
        if counts.shape[0] == 0:  # scikit-learn refuses an empty batch; an empty chunk is no error
            return counts
        return self._tfidf.transform(counts, copy=False)

    def _vectorised_chars(self) -> bool:
        return (self.analyzer == "char" and self.preprocessor is None and not self.strip_accents
                and self.ngram_range[0] >= 1 and self.ngram_range[1] <= 3)

    def _generic_counts(self, raw_documents):
        analyze = self.build_analyzer()
        get = self.vocabulary_.get
        found: list[int] = []  # vocabulary index of every token, -1 when not in the vocabulary
        indptr = [0]
        for doc in raw_documents:
            tokens = analyze(doc)
            found.extend(map(get, tokens, repeat(-1, len(tokens))))
            indptr.append(len(found))
        ids = np.fromiter(found, dtype=np.int64, count=len(found))
        known = ids >= 0
        indptr = np.concatenate([[0], np.cumsum(known)])[np.asarray(indptr, dtype=np.int64)]
        X = sp.csr_matrix((np.ones(int(known.sum()), dtype=np.float64), ids[known], indptr),
                          shape=(len(indptr) - 1, len(self.vocabulary_)))
        X.sum_duplicates()
        return X

    @classmethod
    def _pack(cls, codes: np.ndarray, n: int) -> np.ndarray:
        """Keys of all n-grams of a code-point array (position i: the n-gram starting at i)."""
        m = len(codes) - n + 1
        if m <= 0:
            return np.zeros(0, dtype=np.int64)
        key = codes[:m].copy()
        for k in range(1, n):
            key <<= cls._BITS
            key |= codes[k:k + m]
        return key

    @staticmethod
    def _code_points(text: str) -> np.ndarray:
        raw = text.encode("utf-32-le", "surrogatepass")
        return np.frombuffer(raw, dtype=np.uint32).astype(np.int64)

    def _tables(self) -> dict[int, tuple[pd.Index, np.ndarray]]:
        tables = self.__dict__.get("_char_tables")
        if tables is None:
            terms = list(self.vocabulary_)
            columns = np.fromiter(self.vocabulary_.values(), dtype=np.int64, count=len(terms))
            lengths = np.fromiter(map(len, terms), dtype=np.int64, count=len(terms))
            starts = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
            codes = self._code_points("".join(terms))
            tables = {}
            for n in np.unique(lengths).tolist():
                pick = lengths == n
                keys = self._pack(codes, n)[starts[pick]]
                tables[n] = (pd.Index(keys), columns[pick])
            self.__dict__["_char_tables"] = tables
        return tables

    def _char_counts(self, raw_documents):
        white = self._white_spaces.sub
        lower = self.lowercase
        docs = [white(" ", d.lower() if lower else d) for d in raw_documents]
        n_docs = len(docs)
        lengths = np.fromiter(map(len, docs), dtype=np.int64, count=n_docs)
        ends = np.cumsum(lengths)
        codes = self._code_points("".join(docs))
        doc_of = np.repeat(np.arange(n_docs, dtype=np.int64), lengths)
        rows, cols = [], []
        lo, hi = self.ngram_range
        for n, (keys, columns) in self._tables().items():
            if not lo <= n <= hi or not len(keys):
                continue
            grams = self._pack(codes, n)
            if not len(grams):
                continue
            owner = doc_of[: len(grams)]
            inside = np.arange(len(grams)) + n <= ends[owner]  # the n-gram does not cross into the next text
            pos = keys.get_indexer(grams)
            hit = inside & (pos >= 0)
            rows.append(owner[hit])
            cols.append(columns[pos[hit]])
        r = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
        c = np.concatenate(cols) if cols else np.zeros(0, dtype=np.int64)
        X = sp.csr_matrix((np.ones(len(r), dtype=np.float64), (r, c)), shape=(n_docs, len(self.vocabulary_)))
        X.sum_duplicates()
        return X


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
                  max_words: int = 80_000, cues: bool = True) -> FeatureUnion:
    """The feature union every head shares."""
    parts = [
        ("words", FastTfidfVectorizer(analyzer=WordAnalyzer(tokenizer), min_df=2, max_features=max_words,
                                  sublinear_tf=True, dtype=np.float64)),
        ("chars", FastTfidfVectorizer(analyzer="char", ngram_range=(1, 3), min_df=2, max_features=max_chars,
                                  sublinear_tf=True, dtype=np.float64)),
    ]
    if cues:
        parts.append(("cues", CueCounter(tuple(taxonomy.cue_terms()))))
    return FeatureUnion(parts)
