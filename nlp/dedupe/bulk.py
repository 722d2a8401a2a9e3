"""The set features of ``Verifier._set_features`` for many pairs at once.

Each kind of set a document carries (rare words, named things, dates, numbers, the bigrams of its
elements and of its text) becomes a binary sparse matrix with one row a document; the size of the
intersection of two documents' sets is then the sum of the elementwise product of their rows, for
all pairs in one operation. The values equal the one-pair code's (a test holds them equal).
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

from nlp.dedupe.docs import Doc, ids, sparse_rows
from nlp.dedupe.fingerprint import bigram_codes, distinct_bigrams

COMPARED = ("对象", "地点", "时间")


def set_features(docs: list[Doc], a: np.ndarray, b: np.ndarray, number) -> np.ndarray:
    """(pairs, 7) features of the pairs (docs[a[k]], docs[b[k]]): shared rare words, named things,
    对象/地点/时间 agreement, dates, numbers (``number``: the regex of a number)."""
    rare = _binary([d.rare for d in docs])
    out = [_share(_shared(rare, rare, a, b), _sizes(rare)[a], _sizes(rare)[b])]
    out.append(_typed(docs, a, b))
    out += [_agreement(docs, a, b, k, number) for k in COMPARED]
    dates = _binary([d.dates for d in docs])
    both = (_sizes(dates)[a] > 0) & (_sizes(dates)[b] > 0)
    out.append(np.where(both, np.where(_shared(dates, dates, a, b) > 0, 1.0, -1.0), 0.0))
    nums = _binary([d.numbers for d in docs])
    na, nb = _sizes(nums)[a], _sizes(nums)[b]
    out.append(np.where((na > 0) & (nb > 0), _share(_shared(nums, nums, a, b), na, nb) * 2 - 1, 0.0))
    return np.column_stack(out)


def _binary(items: list, ids: dict | None = None) -> sparse.csr_matrix:
    """One row per document; ``items[d]``: the hashable members of document d's set."""
    ids = {} if ids is None else ids
    lengths = np.fromiter((len(x) for x in items), dtype=np.int64, count=len(items))
    cols = np.fromiter((ids.setdefault(m, len(ids)) for x in items for m in x), dtype=np.int64,
                       count=int(lengths.sum()))
    return sparse.csr_matrix((np.ones(len(cols)), cols, np.r_[0, np.cumsum(lengths)]),
                             shape=(len(items), max(len(ids), 1)))


def _shared(x: sparse.csr_matrix, y: sparse.csr_matrix, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """|set of a in x ∩ set of b in y| for each pair (x, y: the same column space)."""
    return np.asarray(x[a].multiply(y[b]).sum(axis=1)).ravel()


def _sizes(m: sparse.csr_matrix) -> np.ndarray:
    return np.diff(m.indptr).astype(float)


def _share(shared: np.ndarray, na: np.ndarray, nb: np.ndarray) -> np.ndarray:
    """shared / min(na, nb) where both sets are stated, else 0."""
    both = (na > 0) & (nb > 0)
    return np.where(both, shared / np.where(both, np.minimum(na, nb), 1.0), 0.0)


def _typed(docs: list[Doc], a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """-1 when some kind is named in both with no name in common, +1 when every kind named in both
    shares a name, 0 when no kind is named in both."""
    kind_ids: dict = {}
    kinds = _binary([{k for k, _ in d.names} for d in docs], kind_ids)
    common = _shared(kinds, kinds, a, b)
    item_ids: dict = {}
    named = _binary([d.names for d in docs], item_ids)
    # (kind, name) column -> its kind's column: which kinds have a shared name in each pair
    to_kind = sparse.csr_matrix((np.ones(len(item_ids)), (list(item_ids.values()),
                                                          [kind_ids[k] for k, _ in item_ids])),
                                shape=(max(len(item_ids), 1), max(len(kind_ids), 1)))
    shared_kinds = np.asarray(((named[a].multiply(named[b]) @ to_kind) > 0).sum(axis=1)).ravel()
    return np.where(common == 0, 0.0, np.where(shared_kinds >= common, 1.0, -1.0))


def _agreement(docs: list[Doc], a: np.ndarray, b: np.ndarray, name: str, number) -> np.ndarray:
    """``verify._agreement`` of element ``name`` for each pair."""
    values = [d.elements.get(name, "") or "" for d in docs]
    stated = np.fromiter((bool(v) for v in values), dtype=bool, count=len(values))
    both = stated[a] & stated[b]
    if name == "时间":  # the numbers the two times state
        nums = _binary([set(number.findall(v)) for v in values])
        stated_nums = (_sizes(nums)[a] > 0) & (_sizes(nums)[b] > 0)
        return np.where(both & stated_nums, np.where(_shared(nums, nums, a, b) > 0, 1.0, -1.0), 0.0)
    # element bigrams and text bigrams as codes (first char << 21 | second), one column space;
    # a text's distinct bigram codes are its character-vector ids (nlp.dedupe.docs)
    owner, codes = distinct_bigrams(*bigram_codes(values))
    elem = np.split(codes, np.searchsorted(owner, np.arange(1, len(values))))
    m = sparse_rows(elem + [ids(d.chars) for d in docs], binary=True)
    elem_rows, text_rows = m[:len(docs)], m[len(docs):]
    n_elem = _sizes(elem_rows)
    sa, sb = n_elem[a], n_elem[b]
    ab = _shared(elem_rows, text_rows, a, b) / np.where(sa > 0, sa, 1)  # a's element grams in b's text
    ba = _shared(elem_rows, text_rows, b, a) / np.where(sb > 0, sb, 1)
    v = np.maximum(np.where(sa > 0, ab, 0.0), np.where(sb > 0, ba, 0.0))
    return np.where(both, 2.0 * v - 1.0, 0.0)
