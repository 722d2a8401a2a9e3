"""The element tagger: a linear-chain CRF over characters, BIO labels for the five elements.

Training goes through CRFsuite (``python-crfsuite``, compiled, L-BFGS with L1+L2). Its weights
are then exported into numpy arrays (a weight row per hashed feature bucket, an 11x11
transition matrix), and prediction is a gather plus a Viterbi decoder vectorised over the
batch: no per-character Python objects, so batch throughput stays that of the classifier.

    >>> tagger = ElementTagger().fit(texts, spans)          # spans: [(label, start, end), ...] per text
    >>> tagger.predict(["某县民政局三个月不予答复"])           # -> [[("对象", 0, 5), ("具体行为", 5, 12)]]
"""

from __future__ import annotations

import os
import tempfile

import numpy as np

from nlp.elements.features import CharFeatures
from nlp.elements.patterns import ELEMENTS
from nlp.segment import Tokenizer, data_path

LABELS = ("O",) + tuple(f"{p}-{e}" for e in ELEMENTS for p in ("B", "I"))
_FORBIDDEN = -1e4  # score of a transition BIO does not allow (O -> I-x, B-x -> I-y ...)


def encode(length: int, spans) -> list[str]:
    """BIO label of every character from (label, start, end) spans (cut at ``length``)."""
    y = ["O"] * length
    for label, start, end in spans:
        if label not in ELEMENTS or start >= length or end <= start:
            continue
        y[start] = f"B-{label}"
        for i in range(start + 1, min(end, length)):
            y[i] = f"I-{label}"
    return y


class ElementTagger:
    """Linear-chain CRF element tagger.

    Parameters
    ----------
    c1, c2 : L1 and L2 regularisation of CRFsuite's L-BFGS training.
    max_iterations : L-BFGS iterations.
    bits : log2 of the number of feature hash buckets.
    max_chars : characters of each text that are tagged.
    backend : segmentation backend when no tokenizer is given to ``fit``.
    patterns : path of the element pattern file (features); default the bundled one.
    units : name of the unit lexicon in ``nlp/data`` (a feature), or a path; ``None``: none.
    default_bias : added to the scores of every element label (recall of presence: a missed
        element makes the officer ask for what the reporter already said); ``bias_`` holds the
        bias per label, which ``nlp.elements.fitting`` tunes per element on held-out folds.
    """

    def __init__(self, c1: float = 0.05, c2: float = 0.01, max_iterations: int = 120, bits: int = 18,
                 max_chars: int = 4000, backend: str = "auto", patterns: str | None = None,
                 default_bias: float = 0.5, units: str | None = "units.txt"):
        self.c1 = c1
        self.c2 = c2
        self.max_iterations = max_iterations
        self.bits = bits
        self.max_chars = max_chars
        self.backend = backend
        self.patterns = patterns
        self.default_bias = default_bias
        self.units = units

    # ------------------------------------------------------------------ fitting
    def fit(self, texts: list[str], spans: list[list[tuple[str, int, int]]], tokenizer: Tokenizer | None = None):
        """Fit on texts and their (element, start, end) spans."""
        import pycrfsuite

        texts, spans = list(texts), list(spans)
        self.bias_ = element_bias([self.default_bias] * len(ELEMENTS))
        units = str(data_path(self.units)) if self.units and os.sep not in self.units else self.units
        self.features_ = CharFeatures(tokenizer or Tokenizer(self.backend), self.patterns, self.bits, self.max_chars,
                                      units)
        buckets, rows, lens = self.features_.transform(list(texts))
        uniq, inv = np.unique(buckets, return_inverse=True)
        names = np.array(["" if b == self.features_.none_bucket else format(int(b), "x") for b in uniq], dtype=object)
        named = names[inv.reshape(buckets.shape)]
        trainer = pycrfsuite.Trainer(verbose=False)
        for r, n, sp in zip(rows.tolist(), lens.tolist(), spans):
            if n == 0:
                continue
            xseq = [[a for a in row if a] for row in named[r:r + n].tolist()]
            trainer.append(xseq, encode(n, sp))
        trainer.set_params({"c1": self.c1, "c2": self.c2, "max_iterations": self.max_iterations,
                            "feature.possible_transitions": True})
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "crf.model")
            trainer.train(path)
            crf = pycrfsuite.Tagger()
            crf.open(path)
            info = crf.info()
            crf.close()
        self._export(info)
        return self

    def _export(self, info) -> None:
        """CRFsuite's weights as arrays: active buckets (sorted), their weight rows, transitions."""
        index = {lab: k for k, lab in enumerate(LABELS)}
        weights: dict[int, np.ndarray] = {}
        for (attr, label), w in info.state_features.items():
            row = weights.setdefault(int(attr, 16), np.zeros(len(LABELS), dtype=np.float32))
            row[index[label]] = w
        self.buckets_ = np.array(sorted(weights), dtype=np.int64)
        self.weights_ = np.vstack([np.zeros((1, len(LABELS)), np.float32)]
                                  + [weights[b][None, :] for b in self.buckets_.tolist()])
        trans = np.zeros((len(LABELS), len(LABELS)), dtype=np.float64)
        for (a, b), w in info.transitions.items():
            trans[index[a], index[b]] = w
        start = np.zeros(len(LABELS))
        for j, lab in enumerate(LABELS):
            if lab.startswith("I-"):
                start[j] = _FORBIDDEN
                for i, prev in enumerate(LABELS):
                    if prev[2:] != lab[2:]:
                        trans[i, j] = _FORBIDDEN
        self.transitions_ = trans
        self.start_ = start

    # ------------------------------------------------------------------ prediction
    def _lookup(self) -> np.ndarray:
        table = self.__dict__.get("_table")
        if table is None:  # bucket -> weight row (0: no weight); built once, not pickled
            table = np.zeros((1 << self.bits) + 1, dtype=np.int32)
            table[self.buckets_] = np.arange(1, len(self.buckets_) + 1, dtype=np.int32)
            self.__dict__["_table"] = table
        return table

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_table", None)
        return state

    def scores(self, buckets: np.ndarray) -> np.ndarray:
        """Emission scores [characters x labels]: a one-hot sparse matrix times the weights."""
        from scipy.sparse import csr_matrix

        rows = self._lookup()[buckets]
        n, k = rows.shape
        X = csr_matrix((np.ones(n * k, np.float32), rows.ravel(), np.arange(0, n * k + 1, k, dtype=np.int64)),
                       shape=(n, len(self.weights_)))
        return np.asarray(X @ self.weights_, dtype=np.float32)

    def predict(self, texts: list[str], extra: np.ndarray | None = None) -> list[list[tuple[str, int, int]]]:
        """(element, start, end) spans of every text; ``extra``: bias added to ``bias_``."""
        return self.spans_from(*self.emissions(texts), extra=extra)

    def spans_from(self, E: np.ndarray, rows: np.ndarray, lens: np.ndarray, extra: np.ndarray | None = None,
                   subset: np.ndarray | None = None) -> list[list[tuple[str, int, int]]]:
        """Spans decoded from emission scores (of the texts in ``subset`` only, when given)."""
        if subset is not None:
            lens = lens[subset]
            before = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
            E = E[np.repeat(rows[subset] - before, lens) + np.arange(int(lens.sum()))]
            rows = before
        E = E + self.bias_ + (0.0 if extra is None else extra)
        return decode(viterbi(E, rows, lens, self.transitions_, self.start_), rows, lens)

    def emissions(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(emission scores without bias, start row of each text, length of each text)."""
        buckets, rows, lens = self.features_.transform(list(texts))
        return self.scores(buckets), rows, lens


def element_bias(per_element) -> np.ndarray:
    """A bias per label from a bias per element (0 for O)."""
    bias = np.zeros(len(LABELS), dtype=np.float32)
    for e, b in enumerate(per_element):
        bias[1 + 2 * e: 3 + 2 * e] = b
    return bias


def viterbi(E: np.ndarray, rows: np.ndarray, lens: np.ndarray, trans: np.ndarray, start: np.ndarray,
            group: int = 512, budget: int = 131072) -> np.ndarray:
    """Best label path of every sequence. Sequences of similar length are decoded together, sorted
    so that the ones still running at step t are a suffix of the group. Each step takes one
    argmax over the previous label (the last, contiguous axis) and gathers the maximum from it."""
    out = np.zeros(len(E), dtype=np.int64)
    to_from = np.ascontiguousarray(trans.T.astype(np.float32))  # [to, from]
    n_labels = E.shape[1]
    order = np.argsort(lens, kind="stable")
    order = order[lens[order] > 0]
    g = 0
    while g < len(order):
        # as many sequences as fit in ``budget`` padded cells (the longest of them sets the width)
        size = max(1, min(group, budget // int(lens[order[min(g + group, len(order)) - 1]])))
        idx, g = order[g:g + size], g + size
        L = lens[idx]
        T = int(L.max())
        pos = rows[idx][:, None] + np.minimum(np.arange(T)[None, :], L[:, None] - 1)
        em = E[pos]  # [batch, T, labels]
        running = np.searchsorted(L, np.arange(T), side="right")  # sequences [running[t]:] reach step t
        score = (em[:, 0] + start).astype(np.float32)
        back = np.empty((len(idx), T, n_labels), dtype=np.int8)
        back[:] = np.arange(n_labels, dtype=np.int8)  # past its end a sequence stays where it is
        base = np.arange(len(idx) * n_labels, dtype=np.int64) * n_labels  # flat (sequence, to) rows
        for t in range(1, T):
            s = running[t]
            cand = score[s:, None, :] + to_from  # [batch, to, from]
            best = cand.argmax(axis=2)
            back[s:, t] = best
            # the maximum gathered at the argmax: a flat take (take_along_axis builds index grids)
            score[s:] = cand.ravel().take(base[:best.size] + best.ravel()).reshape(best.shape) + em[s:, t]
        path = np.zeros((len(idx), T), dtype=np.int64)
        path[:, T - 1] = score.argmax(axis=1)
        at = np.arange(len(idx))
        for t in range(T - 1, 0, -1):
            path[:, t - 1] = back[at, t, path[:, t]]
        mask = np.arange(T)[None, :] < L[:, None]
        out[pos[mask]] = path[mask]
    return out


def decode(y: np.ndarray, rows: np.ndarray, lens: np.ndarray) -> list[list[tuple[str, int, int]]]:
    """BIO label indices -> (element, start, end) spans per text (an I without its B starts a span)."""
    n = len(y)
    elem = np.where(y > 0, (y - 1) // 2, -1)
    is_b = (y > 0) & (y % 2 == 1)
    first = np.zeros(n, dtype=bool)
    last = np.zeros(n, dtype=bool)
    nonempty = lens > 0
    first[rows[nonempty]] = True
    last[rows[nonempty] + lens[nonempty] - 1] = True
    prev = np.concatenate([[-1], elem[:-1]])
    nxt = np.concatenate([elem[1:], [-1]])
    nxt_b = np.concatenate([is_b[1:], [False]])
    starts = np.flatnonzero((elem >= 0) & (is_b | first | (prev != elem)))
    ends = np.flatnonzero((elem >= 0) & (last | (nxt != elem) | nxt_b)) + 1
    owner = np.searchsorted(rows, starts, side="right") - 1 if len(starts) else starts
    out: list[list[tuple[str, int, int]]] = [[] for _ in range(len(lens))]
    for k, s, e in zip(owner.tolist(), starts.tolist(), ends.tolist()):
        out[k].append((ELEMENTS[int(elem[s])], s - int(rows[k]), e - int(rows[k])))
    return out

