"""Whether a clue states each element at all: one logistic regression per element over the
features the classifier already computes for the row (``ClueClassifier.transform``), so it
costs one sparse product per batch.

The character tagger finds *where* an element is; a row-level view decides better *whether*
it is there (a harm or an act is often phrased in ways no local window shows). The two are
combined per element: presence per element with two thresholds on the probability: one
when the tagger found a span, one when it found none (chosen on held-out folds).
"""

from __future__ import annotations

import numpy as np

from nlp.elements.patterns import ELEMENTS

# Probability needed when the tagger found a span: the row-level view may overrule a found span
# only when it is sure the element is absent (a wrong "absent" makes the officer ask for what the
# reporter said, and can gate a good clue).
FOUND_TH = (0.0, 0.05, 0.15)
MISSING_TH = (0.5, 0.67, 0.85, 1.01)  # ... when it found none (1.01: never)


def present_matrix(spans: list) -> np.ndarray:
    """[rows x elements]: the row has a span of the element."""
    out = np.zeros((len(spans), len(ELEMENTS)), dtype=bool)
    for i, sp in enumerate(spans):
        for s in sp:
            out[i, ELEMENTS.index(s[0])] = True
    return out


class PresenceModel:
    """Per-element presence probability from a row's feature vector.

    Parameters
    ----------
    C : inverse regularisation of each logistic regression (classes balanced).
    """

    def __init__(self, C: float = 10.0):
        self.C = C

    def fit(self, X, present: np.ndarray) -> "PresenceModel":
        """``present``: [rows x 5] booleans (the element is annotated in the row)."""
        from sklearn.linear_model import LogisticRegression

        present = np.asarray(present, dtype=bool)
        self.coef_ = np.zeros((X.shape[1], len(ELEMENTS)))
        self.intercept_ = np.zeros(len(ELEMENTS))
        for e in range(len(ELEMENTS)):
            y = present[:, e]
            if y.all() or not y.any():  # one class only: a constant
                self.intercept_[e] = 20.0 if y.all() else -20.0
                continue
            lr = LogisticRegression(C=self.C, max_iter=3000, class_weight="balanced").fit(X, y)
            self.coef_[:, e] = lr.coef_[0]
            self.intercept_[e] = lr.intercept_[0]
        self.found_threshold_ = np.full(len(ELEMENTS), 0.0)  # untuned: the tagger decides
        self.missing_threshold_ = np.full(len(ELEMENTS), 1.01)
        return self

    def predict_proba(self, X) -> np.ndarray:
        z = np.asarray(X @ self.coef_) + self.intercept_
        return 1.0 / (1.0 + np.exp(-np.clip(z, -30, 30)))

    def decide(self, proba: np.ndarray, found: np.ndarray) -> np.ndarray:
        """Present or not, from the probabilities and whether the tagger found a span."""
        return np.where(found, proba >= self.found_threshold_, proba >= self.missing_threshold_)
