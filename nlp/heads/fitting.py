"""Stage: heads — fitting one head: on all its rows and on grouped folds (out-of-fold margins).

``FittingMixin`` is mixed into ``ClueClassifier``; it needs ``calibration_folds``, ``random_state``,
``tokenizer_`` and ``_columns``. Rows rewritten from one case note (one group) stay on one side of a
fold, unless that would leave a fold without some class.
"""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from nlp.heads.decisions import fit_temperature
from nlp.heads.learners import Head, MaskedLinear
from nlp.names import has_placeholder, to_concrete, to_placeholder


class FittingMixin:
    def _with_name_copies(self, texts: list, labels: pd.DataFrame, groups: list, shift):
        """Rows plus a copy of each row whose names can be swapped (placeholders <-> concrete)."""
        rng = random.Random(self.random_state + 7)
        extra = []
        for i, t in enumerate(texts):
            t = str(t)
            swapped = to_concrete(t, rng) if has_placeholder(t) else to_placeholder(t, self.tokenizer_)
            if swapped != t:
                extra.append((i, swapped))
        if not extra:
            return texts, labels, groups, shift
        idx = [i for i, _ in extra]
        texts = list(texts) + [t for _, t in extra]
        labels = pd.concat([labels, labels.iloc[idx]], ignore_index=True)
        groups = list(groups) + [groups[i] for i in idx]
        if shift is not None:
            shift = list(shift) + [list(shift)[i] for i in idx]
        return texts, labels, groups, shift

    def _folds(self, y: np.ndarray, groups) -> list | None:
        classes, counts = np.unique(y, return_counts=True)
        k = int(min(self.calibration_folds, counts.min()))
        if k < 2:
            return None
        splits = list(StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=self.random_state)
                      .split(np.zeros(len(y)), y, groups))
        if all(len(np.unique(y[train])) == len(classes) for train, _ in splits):
            return splits  # whole groups per fold, unless that would leave a fold without some class
        return list(StratifiedKFold(n_splits=k, shuffle=True, random_state=self.random_state)
                    .split(np.zeros(len(y)), y))

    def _estimator(self, s: dict, n_features: int) -> MaskedLinear:
        cols = self._columns(s["features"])
        if cols is not None and n_features > len(cols):  # stacked columns are always visible
            cols = np.concatenate([cols, np.ones(n_features - len(cols), bool)])
        return MaskedLinear(learner=s["learner"], C=s["C"], alpha=s["alpha"], nb_base=s["nb_base"],
                            columns=cols, random_state=self.random_state)

    def _fit_head(self, X, y: np.ndarray, groups, s: dict) -> tuple[Head, np.ndarray | None]:
        """The head on all rows, and its out-of-fold margins (None when a class is too rare)."""
        classes = np.unique(y)
        if len(classes) == 1:
            return Head([str(classes[0])], None), None
        est = self._estimator(s, X.shape[1]).fit(X, y)
        folds = self._folds(y, groups)
        if folds is None:
            return Head([str(c) for c in est.classes_], est), None
        M = np.zeros((len(y), len(est.classes_)))
        for train, test in folds:
            part = self._estimator(s, X.shape[1]).fit(X[train], y[train])
            m = part.margins(X[test])
            for k, c in enumerate(part.classes_):
                M[test, list(est.classes_).index(c)] = m[:, k]
        est.calibrate(M, y)
        return Head([str(c) for c in est.classes_], est), M

    def _fit_temperature(self, X, y: np.ndarray, groups, shift: np.ndarray, s: dict, head: Head) -> float:
        """Temperature T >= 1 for a binary head: out-of-register predictions (train on every
        register but one, predict that one) through the head's calibration; T minimises their
        log-loss. Ranks and decisions are unchanged; only confidence softens."""
        classes = np.unique(y)
        registers = [r for r in np.unique(shift) if r]
        if len(classes) != 2 or len(registers) < 3:
            return 1.0
        p = np.full(len(y), np.nan)
        for r in registers:
            out = shift == r
            if len(np.unique(y[~out])) < 2:
                continue
            part = self._estimator(s, X.shape[1]).fit(X[~out], y[~out])
            part.prob_a_, part.prob_b_ = head.estimator.prob_a_, head.estimator.prob_b_
            p[out] = part.predict_proba(X[out])[:, list(part.classes_).index(classes[1])]
        known = ~np.isnan(p)
        if known.sum() < 20:
            return 1.0
        return fit_temperature(p[known], (y[known] == classes[1]).astype(float))


def _sigmoid_of(est: MaskedLinear, M: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Calibrated probability of class "1" from out-of-fold margins (binary heads)."""
    d = M[:, 1]
    return 1.0 / (1.0 + np.exp(-np.clip(est.prob_a_[0] * d + est.prob_b_[0], -40, 40)))
