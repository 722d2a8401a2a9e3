"""Verification documents, built for many reports at once.

A document keeps what verification compares (``nlp.dedupe.verify``): the word and character-bigram
TF-IDF vectors of the canonical text as (term ids, unit-length weights) arrays, the rare words, the
named places/units/people, numbers, dates and the extracted elements. Term ids are stable across
processes (documents are built in worker processes and compared in the parent):

- a word of the bundled document-frequency table: its row in the table; any other word:
  ``UNSEEN | crc32(word)``;
- a character bigram: ``first char << 21 | second char``.

Counting and weighting run over the whole batch as array operations; only tokenisation and the
few regular expressions are per text.
"""

from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass
from typing import NamedTuple
from functools import lru_cache

import numpy as np

from nlp.dedupe.fingerprint import bigram_codes, document_frequencies

UNSEEN = 1 << 40  # word ids at or above this are words the table does not have
_NUMBER = re.compile(r"\d+")
_YEAR_MONTH = re.compile(r"(?:19|20)\d{2}年|(?<!\d)\d{1,2}月")
_EMPTY_IDS = np.zeros(0, dtype=np.int64)
_EMPTY_VALS = np.zeros(0, dtype=np.float64)
_EMPTY = (b"", b"")


class Doc(NamedTuple):
    """What verification needs of one report; rebuilt cheaply from the stored canon and elements.
    The vectors are (sorted term ids, unit-length tf-idf weights) as the bytes of int64 and float64
    arrays: a document travels between processes as a few strings, not as numpy objects."""

    canon: str
    elements: dict
    words: tuple  # (ids bytes, weights bytes)
    chars: tuple
    numbers: frozenset
    rare: frozenset  # ids of words the corpus has (almost) never seen: names of people, places, units
    names: frozenset  # (kind, name) of named places, units and people: (村, 青石村), (人:书记, 王)
    dates: frozenset  # years and months stated


def ids(vector: tuple) -> np.ndarray:
    return np.frombuffer(vector[0], dtype=np.int64)


def weights(vector: tuple) -> np.ndarray:
    return np.frombuffer(vector[1], dtype=np.float64)


@dataclass(frozen=True)
class _Tables:
    vocab: dict  # word -> id
    word_df: list  # by id
    word_idf: np.ndarray  # by id
    char_codes: np.ndarray  # sorted bigram codes
    char_idf: np.ndarray  # aligned with char_codes
    unseen: float  # idf of a term the table does not have


@lru_cache(maxsize=2)
def tables(path: str | None) -> _Tables:
    n, df = document_frequencies(path)
    unseen = math.log(n + 1)
    words = sorted((t[2:], c) for t, c in df.items() if t.startswith("w:"))
    chars = sorted(((ord(t[2]) << 21) | ord(t[3]), c) for t, c in df.items() if t.startswith("c:") and len(t) == 4)
    idf = lambda counts: np.log((n + 1) / (np.asarray(counts, dtype=np.float64) + 1))  # noqa: E731
    return _Tables({w: k for k, (w, _) in enumerate(words)}, [c for _, c in words], idf([c for _, c in words]),
                   np.array([k for k, _ in chars], dtype=np.int64), idf([c for _, c in chars]), unseen)


@lru_cache(maxsize=4)
def _names(pattern: str) -> re.Pattern:
    return re.compile(pattern or "(?!)")


def _weighted(doc: np.ndarray, ids: np.ndarray, idf_of, n_docs: int) -> list[tuple]:
    """Per text (ids, weights): counts of each (text, id), weight (1 + log count) * idf, unit length."""
    if not len(ids):
        return [_EMPTY] * n_docs
    key = np.sort(doc.astype(np.int64) << 42 | ids)
    new = np.r_[True, key[1:] != key[:-1]]
    starts = np.flatnonzero(new)
    counts = np.diff(np.r_[starts, len(key)])
    key = key[starts]
    owner, term = key >> 42, key & ((1 << 42) - 1)
    w = (1.0 + np.log(counts)) * idf_of(term)
    first = np.flatnonzero(np.r_[True, owner[1:] != owner[:-1]])
    norm = np.sqrt(np.add.reduceat(w * w, first))
    w = w / np.repeat(np.where(norm > 0, norm, 1.0), np.diff(np.r_[first, len(w)]))
    out = [_EMPTY] * n_docs
    bounds = np.r_[first, len(w)].tolist()
    term_bytes, w_bytes = term.astype(np.int64).tobytes(), w.astype(np.float64).tobytes()
    for k, d in enumerate(owner[first].tolist()):
        lo, hi = 8 * bounds[k], 8 * bounds[k + 1]
        out[d] = (term_bytes[lo:hi], w_bytes[lo:hi])
    return out


def build_docs(canons: list[str], elements: list[dict], tokenizer, df_path: str | None = None, rare_df: int = 2,
               names: str = "", name_chars: int = 3, persons: str = "") -> list[Doc]:
    """The documents of canonical texts and their extracted elements (see the module docstring)."""
    t = tables(df_path)
    vocab, word_df = t.vocab, t.word_df
    owners: list[int] = []
    ids: list[int] = []
    rare: list[frozenset] = []
    for i, canon in enumerate(canons):
        found = set()
        for w in tokenizer.words(canon) if canon else ():
            digit = w.isdigit()
            if len(w) < 2 and not digit:
                continue
            k = vocab.get(w)
            if k is None:
                k, df = UNSEEN | zlib.crc32(w.encode("utf-8")), 0
            else:
                df = word_df[k]
            owners.append(i)
            ids.append(k)
            if df <= rare_df and not digit:
                found.add(k)
        rare.append(frozenset(found))
    n_words = len(t.word_idf)

    def word_idf(term: np.ndarray) -> np.ndarray:
        known = term < n_words
        return np.where(known, t.word_idf[np.where(known, term, 0)], t.unseen)

    def char_idf(term: np.ndarray) -> np.ndarray:
        at = np.minimum(np.searchsorted(t.char_codes, term), max(len(t.char_codes) - 1, 0))
        hit = t.char_codes[at] == term if len(t.char_codes) else np.zeros(len(term), dtype=bool)
        return np.where(hit, t.char_idf[at] if len(t.char_idf) else 0.0, t.unseen)

    words = _weighted(np.asarray(owners, dtype=np.int64), np.asarray(ids, dtype=np.int64), word_idf, len(canons))
    chars = _weighted(*bigram_codes(canons), char_idf, len(canons))
    name_rx, person_rx = _names(names), _names(persons)
    out = []
    for i, canon in enumerate(canons):
        named = {(m.group(1), m.group(0)[-name_chars:]) for m in name_rx.finditer(canon)}
        named.update(("人:" + m.group(2), m.group(1)) for m in person_rx.finditer(canon))
        out.append(Doc(canon, elements[i], words[i], chars[i],
                       frozenset(m for m in _NUMBER.findall(canon) if len(m) > 1 or m != "1"), rare[i],
                       frozenset(named), frozenset(_YEAR_MONTH.findall(canon))))
    return out


def cosine(a: tuple, b: tuple) -> float:
    """Cosine of two (ids, unit weights) vectors."""
    if not a[0] or not b[0]:
        return 0.0
    _, x, y = np.intersect1d(ids(a), ids(b), assume_unique=True, return_indices=True)
    return float(weights(a)[x] @ weights(b)[y])


def sparse_rows(vectors: list, binary: bool = False):
    """A CSR matrix with one row per vector (columns: the ids met, renumbered). ``vectors``:
    (ids bytes, weights bytes) pairs, or with ``binary`` id arrays whose weights are all 1."""
    from scipy import sparse

    if binary:
        lengths = np.fromiter(map(len, vectors), dtype=np.int64, count=len(vectors))
        all_ids = np.concatenate(vectors) if len(vectors) else _EMPTY_IDS
        vals = np.ones(len(all_ids))
    else:
        lengths = np.fromiter((len(v[0]) // 8 for v in vectors), dtype=np.int64, count=len(vectors))
        all_ids = np.frombuffer(b"".join(v[0] for v in vectors), dtype=np.int64)
        vals = np.frombuffer(b"".join(v[1] for v in vectors), dtype=np.float64)
    order = np.argsort(all_ids)
    ranked = all_ids[order]
    new = np.r_[True, ranked[1:] != ranked[:-1]] if len(ranked) else np.zeros(0, dtype=bool)
    cols = np.empty(len(all_ids), dtype=np.int64)
    cols[order] = np.cumsum(new) - 1
    width = max(int(new.sum()), 1)
    return sparse.csr_matrix((vals, cols, np.r_[0, np.cumsum(lengths)]), shape=(len(vectors), width))
