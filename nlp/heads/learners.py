"""Stage: heads — the linear learners a head can use, chosen per head by data (nlp/data/heads.toml).

Every learner is a scikit-learn classifier on the shared sparse features with ``decision_function``
(margins), ``predict_proba`` and a ``coef_`` on the *shared* feature columns, so evidence words and
batch prediction work the same whatever the learner:

    svm     LinearSVC, balanced classes (probabilities: sigmoid calibration on grouped folds);
    lr      logistic regression (liblinear, one-vs-rest), balanced classes;
    sgd     SGDClassifier with log loss, balanced classes;
    nbsvm   NB-SVM (Wang & Manning 2012): per class, features scaled by the log-count ratio
            r = log(p/|p|) - log(q/|q|) before a linear SVM or LR; r is folded into the weights,
            so prediction is one sparse product like the others.

A learner may see only some feature families (``features = "words"`` / ``"chars"``): the other
columns get zero weight (a column mask folded into the weights again).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression, SGDClassifier
from sklearn.svm import LinearSVC
from sklearn.utils.class_weight import compute_class_weight

LEARNERS = ("svm", "lr", "sgd", "nbsvm")


def base_estimator(kind: str, C: float, random_state: int, alpha: float | None = None):
    """One binary/one-vs-rest linear estimator with balanced classes."""
    if kind == "svm":
        return LinearSVC(C=C, class_weight="balanced", random_state=random_state)
    if kind == "lr":
        return LogisticRegression(C=C, class_weight="balanced", solver="liblinear", max_iter=1000,
                                  random_state=random_state)
    if kind == "sgd":
        return SGDClassifier(loss="log_loss", alpha=alpha or 1e-5, class_weight="balanced", max_iter=30,
                             tol=1e-4, random_state=random_state)
    raise ValueError(f"unknown learner {kind!r}")


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-np.clip(z, -40, 40)))


class MaskedLinear(BaseEstimator, ClassifierMixin):
    """A linear classifier (``learner``) optionally on NB-scaled features and a column mask.

    Parameters
    ----------
    learner : "svm", "lr", "sgd" or "nbsvm".
    C : inverse regularisation (svm, lr, nbsvm).
    alpha : SGD regularisation.
    nb_base : the linear model under NB scaling ("svm" or "lr").
    nb_smooth : additive smoothing of the NB feature sums.
    columns : boolean mask of the feature columns the head may use (None: all).
    random_state : seed.

    After fitting: ``classes_``, ``coef_`` (n_classes or 1, n_features) and ``intercept_`` on the
    full feature space; ``decision_function`` and ``predict_proba`` (logistic of the margins for
    lr/sgd; for svm/nbsvm-svm a per-class sigmoid fitted by ``calibrate``, else the logistic of the
    margin).
    """

    def __init__(self, learner: str = "svm", C: float = 0.5, alpha: float | None = None, nb_base: str = "svm",
                 nb_smooth: float = 1.0, columns=None, random_state: int = 0):
        self.learner = learner
        self.C = C
        self.alpha = alpha
        self.nb_base = nb_base
        self.nb_smooth = nb_smooth
        self.columns = columns
        self.random_state = random_state

    def _binary(self, X, y: np.ndarray, sample_weight: np.ndarray | None = None):
        kind = self.nb_base if self.learner == "nbsvm" else self.learner
        est = base_estimator(kind, self.C, self.random_state, self.alpha)
        if sample_weight is not None:
            est.set_params(class_weight=None)
        scale = None
        if self.learner == "nbsvm":
            pos = np.asarray(X[y].sum(axis=0)).ravel() + self.nb_smooth
            neg = np.asarray(X[~y].sum(axis=0)).ravel() + self.nb_smooth
            scale = np.log(pos / pos.sum()) - np.log(neg / neg.sum())
            if self.columns is not None:
                scale = scale * self.columns
            X = X @ sp.diags(scale)
        est.fit(X, y.astype(int), sample_weight=sample_weight)
        w = est.coef_.ravel()
        if scale is not None:
            w = w * scale
        return w, float(np.ravel(est.intercept_)[0])

    def fit(self, X, y):
        X = sp.csr_matrix(X)
        if self.columns is not None and self.learner != "nbsvm":
            X = X @ sp.diags(np.asarray(self.columns, dtype=float))
        y = np.asarray(y).astype(str)
        self.classes_ = np.unique(y)
        targets = [self.classes_[1]] if len(self.classes_) == 2 else list(self.classes_)
        if self.learner == "svm":  # liblinear's own one-vs-rest, as LinearSVC does it
            est = base_estimator(self.learner, self.C, self.random_state).fit(X, y)
            coefs, inters = [np.asarray(est.coef_)], list(np.ravel(est.intercept_))
        else:
            coefs, inters = [], []
            # one-vs-rest; with more than two classes every row weighs by its own class
            # (multi-class balanced), so "rest" keeps the rare classes' weight
            weights = balanced_weights(y)
            sw = np.array([weights[v] for v in y]) if len(self.classes_) > 2 else None
            for c in targets:
                w, b = self._binary(X, y == c, sw)
                coefs.append(w)
                inters.append(b)
        self.coef_ = np.vstack(coefs)
        if self.columns is not None:
            self.coef_ = self.coef_ * np.asarray(self.columns, dtype=float)
        self.intercept_ = np.array(inters)
        self.prob_a_ = np.ones(len(targets))
        self.prob_b_ = np.zeros(len(targets))
        return self

    def decision_function(self, X):
        d = X @ self.coef_.T + self.intercept_
        d = np.asarray(d)
        return d.ravel() if d.shape[1] == 1 else d

    def margins(self, X) -> np.ndarray:
        """One column per class (binary: [-d, d])."""
        d = self.decision_function(X)
        return np.column_stack([-d, d]) if d.ndim == 1 else d

    def calibrate(self, margins: np.ndarray, y: np.ndarray) -> "MaskedLinear":
        """Per-class sigmoid (Platt) on out-of-fold margins ``margins`` (n, n_classes)."""
        y = np.asarray(y).astype(str)
        targets = [self.classes_[1]] if len(self.classes_) == 2 else list(self.classes_)
        a, b = [], []
        for k, c in enumerate(targets):
            m = margins[:, 1] if len(self.classes_) == 2 else margins[:, k]
            t = (y == c).astype(int)
            if t.min() == t.max():
                a.append(1.0)
                b.append(0.0)
                continue
            lr = LogisticRegression(C=1e4).fit(m.reshape(-1, 1), t)
            a.append(float(lr.coef_[0, 0]))
            b.append(float(lr.intercept_[0]))
        self.prob_a_, self.prob_b_ = np.array(a), np.array(b)
        return self

    def predict_proba(self, X) -> np.ndarray:
        d = self.decision_function(X)
        if d.ndim == 1:
            p = _sigmoid(self.prob_a_[0] * d + self.prob_b_[0])
            return np.column_stack([1 - p, p])
        p = _sigmoid(d * self.prob_a_ + self.prob_b_)
        return p / np.clip(p.sum(axis=1, keepdims=True), 1e-12, None)

    def predict(self, X):
        return self.classes_[self.margins(X).argmax(axis=1)]


def balanced_weights(y: np.ndarray) -> dict:
    classes = np.unique(y)
    return dict(zip(classes, compute_class_weight("balanced", classes=classes, y=y)))


@dataclass
class Head:
    """One fitted classifier: probabilities for ``classes`` and linear weights for explanations."""

    classes: list[str]
    estimator: object | None  # None: a constant head (one class seen in training)

    def proba(self, X) -> np.ndarray:
        if self.estimator is None:
            return np.ones((X.shape[0], 1))
        return self.estimator.predict_proba(X)

    @property
    def coef(self) -> np.ndarray:
        """The linear weights (read from the estimator, so the model file holds them once)."""
        est = self.estimator
        if est is None:
            return np.zeros((0, 0))
        if isinstance(est, CalibratedClassifierCV):  # models built before heads.toml
            return est.calibrated_classifiers_[0].estimator.coef_
        return est.coef_

    def scores(self, X) -> np.ndarray | None:
        """Raw margins of the linear model, one column per class (None for a constant head)."""
        est = self.estimator
        if est is None:
            return None
        if isinstance(est, CalibratedClassifierCV):
            est = est.calibrated_classifiers_[0].estimator
        d = est.decision_function(X)
        return np.column_stack([-d, d]) if d.ndim == 1 else d

    def weights(self, k: int) -> np.ndarray | None:
        """Weight vector that pushes towards class index k."""
        coef = self.coef
        if coef.size == 0:
            return None
        if coef.shape[0] == 1:  # binary: coef favours classes[1]
            return coef[0] if k == 1 else -coef[0]
        return coef[k]
