"""Stage: heads — what each head reads: the shared TF-IDF features, plus the encoder table's text
vectors (heads whose ``features`` end in "+embed", ``nlp.embed``) and other heads' scores (``stack``).

``InputsMixin`` is mixed into ``ClueClassifier``; it needs ``settings_``, ``features_``, ``heads_``,
``schemes_``, ``taxonomy_`` and ``heads_path``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from nlp.embed import fit_table, words_columns
from nlp.heads.config import feature_family, load_embed_settings


class Appended:
    """Sparse features with dense columns appended, never joined into one matrix: ``A @ W`` is
    ``X @ W[:n] + D @ W[n:]``, the product a linear head's ``decision_function`` takes."""

    def __init__(self, X, D: np.ndarray):
        self.X, self.D = X, D
        self.shape = (X.shape[0], X.shape[1] + D.shape[1])

    def __matmul__(self, W):
        n = self.X.shape[1]
        return np.asarray(self.X @ W[:n]) + self.D @ W[n:]


class InputsMixin:
    def _fit_embedding(self, norm: list[str], X) -> None:
        """The encoder table when a head asks for it; without the encoder those heads fall back to
        their TF-IDF family (``embed_note_`` says so, in Chinese)."""
        users = [sid for sid, s in self.settings_.items() if feature_family(s["features"])[1]]
        self.embedding_, self.embed_note_ = None, ""
        if users:
            self.embedding_, self.embed_note_ = fit_table(self.features_, norm, X, load_embed_settings(self.heads_path),
                                                          users)
        if self.embedding_ is None:
            for sid in users:
                self.settings_[sid]["features"] = feature_family(self.settings_[sid]["features"])[0]
        self._E = self._embedded(X)

    def _embedded(self, X) -> np.ndarray | None:
        table = getattr(self, "embedding_", None)
        return None if table is None else table.transform(X[:, :words_columns(self.features_)])

    def _stacked(self, sid: str, X, Z: np.ndarray | None, E: np.ndarray | None = None, joined: bool = True):
        """A head's input: the shared features, the table's text vectors (heads with "+embed"), the
        scores of stacked heads. ``joined=False`` (prediction): the dense columns stay beside the
        sparse matrix (``Appended``), which is all a linear head needs and much cheaper than joining."""
        s = getattr(self, "settings_", {}).get(sid, {})
        dense = []
        if E is not None and feature_family(s.get("features", "all"))[1]:
            dense.append(E * s["embed_weight"])
        if Z is not None:
            dense.append(Z * s["stack_weight"])
        if not dense:
            return X
        if not joined:
            return Appended(X, np.hstack(dense) if len(dense) > 1 else dense[0])
        return sp.hstack([X] + [sp.csr_matrix(D) for D in dense]).tocsr()

    def _train_stack(self, sid: str, X) -> np.ndarray | None:
        """Stacked inputs of every training row: the sources' out-of-fold scores."""
        srcs = [s for s in self.settings_[sid]["stack"] if s in self._oof]
        return np.hstack([self._oof[s] for s in srcs]) if srcs else None

    def _inputs(self, X) -> dict[str, object]:
        """Each head's input rows: the shared features, plus the scores of stacked heads."""
        settings = getattr(self, "settings_", {})
        out: dict[str, object] = {}
        scores: dict[str, np.ndarray] = {}
        E = self._embedded(X)
        for sid in self.schemes_:
            srcs = [x for x in settings.get(sid, {}).get("stack", []) if x in self.schemes_]
            if srcs:
                Z = np.hstack([scores.get(x) if x in scores else
                               self._scores_of(x, self._stacked(x, X, None, E, joined=False)) for x in srcs])
                out[sid] = self._stacked(sid, X, Z, E, joined=False)
            elif E is not None and feature_family(settings.get(sid, {}).get("features", "all"))[1]:
                out[sid] = self._stacked(sid, X, None, E, joined=False)
            else:
                out[sid] = X
        return out

    def _scores_of(self, sid: str, X) -> np.ndarray:
        """The stacked representation of a head's scores (as in training)."""
        head = self.heads_[sid]
        if isinstance(head, dict):
            return np.column_stack([h.scores(X)[:, 1] if h.estimator is not None else np.zeros(X.shape[0])
                                    for h in (head[c] for c in self.taxonomy_[sid].code_list if c in head)])
        d = head.scores(X)
        return d[:, 1:] if d.shape[1] == 2 else d
