"""Stage: heads. The multi-head clue classifier, a scikit-learn style estimator.

One shared feature space (``nlp.features``), one calibrated linear head per taxonomy scheme:
质量, 低质原因, 维度 (multi-label, one binary head per code, thresholds tuned on dev),
作为类型, 东丽类别, 盐山类别 and any scheme a user adds to the taxonomy data.

It knows nothing of files or the command line: ``fit(texts, labels)``, ``predict(texts)``,
``predict_proba(texts)``, ``explain(texts)``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import minimize_scalar
from sklearn.base import BaseEstimator
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold
from sklearn.svm import LinearSVC

from nlp.features import make_features
from nlp.names import drop_placeholders
from nlp.normalize import normalize
from nlp.segment import Tokenizer
from nlp.taxonomy import GOOD, LOW, QUALITY, REASON, Scheme, Taxonomy, load_taxonomy


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


EVIDENCE_POOL = 4000


def _evidence_terms() -> dict[str, tuple[str, ...]]:
    """Per head, the terms an evidence feature must contain (nlp/data/evidence.toml)."""
    import tomllib

    from nlp.segment import data_path

    data = tomllib.loads(data_path("evidence.toml").read_text(encoding="utf-8"))
    return {sid: tuple(v.get("contains", ())) for sid, v in data.items()}  # evidence is drawn from the strongest positive weights of each code


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
        if isinstance(est, CalibratedClassifierCV):
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


class ClueClassifier(BaseEstimator):
    """Multi-head classifier of clues and bulletin text.

    Parameters
    ----------
    taxonomy_path : taxonomy TOML; None for the bundled one.
    backend : segmentation backend ("auto", "rjieba", "jieba").
    C : inverse regularisation strength of the linear heads.
    calibration_folds : folds for sigmoid calibration of each head.
    learner : "svm" (LinearSVC with sigmoid calibration on grouped folds) or "logreg" (logistic
        regression, balanced classes; its probabilities are used as they are).
    max_char_features : cap on character n-gram features (None: every n-gram seen twice).
    tune_offsets : per-code decision offsets tuned on dev (single-label heads).
    cues : add counts of the taxonomy's cue terms as features.
    placeholders : "drop" makes features blind to anonymisation placeholders (某县 reads as 县),
        so a placeholder cannot stand in for substance; "keep" leaves the text as it is.
    decision : "raw" chooses a single-label category by the class-balanced margins (calibrated
        probabilities are still reported as confidence); "calibrated" by the probabilities.
    random_state : seed; the same data and seed give the same model.

    Defaults were chosen by the evaluation protocol (``make eval``: cross-writer, grouped folds,
    names swap, fragments), not by the test split.
    """

    def __init__(self, taxonomy_path: str | None = None, backend: str = "auto", learner: str = "svm",
                 C: float = 0.5, calibration_folds: int = 3, max_char_features: int | None = None,
                 tune_offsets: bool = False, cues: bool = False, placeholders: str = "drop",
                 decision: str = "raw", random_state: int = 0):
        self.taxonomy_path = taxonomy_path
        self.backend = backend
        self.learner = learner
        self.C = C
        self.calibration_folds = calibration_folds
        self.max_char_features = max_char_features
        self.tune_offsets = tune_offsets
        self.cues = cues
        self.placeholders = placeholders
        self.decision = decision
        self.random_state = random_state

    # ------------------------------------------------------------------ fitting
    def fit(self, texts, labels: pd.DataFrame, dev_texts=None, dev_labels: pd.DataFrame | None = None,
            groups=None, shift=None):
        """Fit every head. ``labels`` has one column per scheme id (codes as in the taxonomy).

        ``groups``: rows with the same group (e.g. rewrites of one case note) never fall on both
        sides of a calibration fold, so the probabilities are not calibrated on near-copies.
        ``shift``: a register per row (e.g. 来信, 热线, 巡察). The 质量 head's probabilities are
        softened by a temperature fitted on predictions for registers left out of training, so
        质量分 reflects how the model does on text unlike its training rows (see ``temperature_``).
        """
        groups = None if groups is None else np.asarray([str(g) for g in groups], dtype=object)
        shift = None if shift is None else np.asarray([str(s) for s in shift], dtype=object)
        self.temperature_: dict[str, float] = {}
        self.taxonomy_: Taxonomy = load_taxonomy(self.taxonomy_path)
        self.tokenizer_ = Tokenizer(self.backend)
        norm = self._feature_texts([normalize(str(t)) for t in texts])
        self.features_ = make_features(self.tokenizer_, self.taxonomy_, max_chars=self.max_char_features,
                                       cues=self.cues)
        X = self.features_.fit_transform(norm)
        labels = labels.reset_index(drop=True).fillna("").astype(str)
        self.heads_: dict[str, Head | dict[str, Head]] = {}
        self.schemes_: list[str] = []
        for scheme in self.taxonomy_.schemes:
            if scheme.id not in labels.columns:
                continue
            rows = self._rows_for(scheme, labels)
            if not rows.any():
                continue
            if scheme.multi:
                sets = [set(scheme.parse(v)) for v in labels.loc[rows, scheme.id]]
                g = None if groups is None else groups[rows.to_numpy()]
                self.heads_[scheme.id] = {
                    code: self._fit_head(X[rows.to_numpy()], np.array(["1" if code in s else "0" for s in sets]), g)
                    for code in scheme.code_list
                }
            else:
                y = labels.loc[rows, scheme.id].to_numpy()
                g = None if groups is None else groups[rows.to_numpy()]
                self.heads_[scheme.id] = self._fit_head(X[rows.to_numpy()], y, g)
                if scheme.id == QUALITY and shift is not None:
                    self.temperature_[QUALITY] = self._fit_temperature(X[rows.to_numpy()], y, g,
                                                                       shift[rows.to_numpy()])
            self.schemes_.append(scheme.id)
        self.thresholds_ = {sid: {} for sid in self.schemes_ if self.taxonomy_[sid].multi}
        self.at_least_one_ = {sid: False for sid in self.thresholds_}
        if dev_texts is not None and dev_labels is not None and len(dev_texts):
            self._tune_thresholds(dev_texts, dev_labels.reset_index(drop=True).fillna("").astype(str))
        self.feature_names_ = self._display_names()
        self.evidence_terms_ = _evidence_terms()
        return self

    @staticmethod
    def _rows_for(scheme: Scheme, labels: pd.DataFrame) -> pd.Series:
        has = labels[scheme.id].str.strip() != ""
        if scheme.applies_to == "all":
            return has
        quality = labels[QUALITY] if QUALITY in labels.columns else pd.Series([GOOD] * len(labels))
        in_scope = quality == scheme.applies_to
        # A multi-label cell may be legitimately empty ("no dimension"); single ones must be set.
        return in_scope if scheme.multi else (in_scope & has)

    def _fit_head(self, X, y: np.ndarray, groups: np.ndarray | None = None) -> Head:
        classes, counts = np.unique(y, return_counts=True)
        if len(classes) == 1:
            return Head([str(classes[0])], None)
        if self.learner == "logreg":
            est = LogisticRegression(C=self.C, class_weight="balanced", max_iter=3000,
                                     random_state=self.random_state).fit(X, y)
            return Head([str(c) for c in est.classes_], est)
        folds = int(min(self.calibration_folds, counts.min()))
        if folds >= 2:
            cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=self.random_state)
            if groups is not None:
                # whole groups per fold, unless grouping would leave a fold without some class
                splits = list(StratifiedGroupKFold(n_splits=folds, shuffle=True,
                                                   random_state=self.random_state).split(X, y, groups))
                if all(len(np.unique(y[train])) == len(classes) for train, _ in splits):
                    cv = splits
            base = LinearSVC(C=self.C, class_weight="balanced", random_state=self.random_state)
            est = CalibratedClassifierCV(base, method="sigmoid", cv=cv, ensemble=False).fit(X, y)
        else:  # too few examples of some class to calibrate: logistic probabilities as they are
            est = LogisticRegression(C=max(self.C * 4, 1.0), class_weight="balanced", max_iter=2000,
                                     random_state=self.random_state).fit(X, y)
        return Head([str(c) for c in est.classes_], est)

    def _fit_temperature(self, X, y: np.ndarray, groups, shift: np.ndarray) -> float:
        """Temperature T >= 1 for a binary head: out-of-register predictions (train on every
        register but one, predict that one) are scored, and T minimises their log-loss when
        each logit is divided by T. Ranks and decisions are unchanged; only confidence softens."""
        classes = np.unique(y)
        registers = np.unique(shift)
        if len(classes) != 2 or len(registers) < 3:
            return 1.0
        p = np.full(len(y), np.nan)
        for r in registers:
            out = shift == r
            if len(np.unique(y[~out])) < 2:
                continue
            head = self._fit_head(X[~out], y[~out], None if groups is None else groups[~out])
            if head.estimator is not None and classes[1] in head.classes:
                p[out] = head.proba(X[out])[:, head.classes.index(classes[1])]
        known = ~np.isnan(p)
        if known.sum() < 20:
            return 1.0
        logit = _logit(p[known])
        target = (y[known] == classes[1]).astype(float)

        def loss(t: float) -> float:
            q = np.clip(1 / (1 + np.exp(-logit / t)), 1e-9, 1 - 1e-9)
            return float(-np.mean(target * np.log(q) + (1 - target) * np.log(1 - q)))

        return round(float(minimize_scalar(loss, bounds=(1.0, 5.0), method="bounded").x), 3)

    def _tune_thresholds(self, dev_texts, dev_labels: pd.DataFrame) -> None:
        """Per-code thresholds of multi-label heads, chosen on dev rows (never test)."""
        X = self.transform(dev_texts)  # once: probabilities and (for offsets) margins
        probs = self.predict_proba(dev_texts, X=X)
        grid = np.round(np.arange(0.15, 0.86, 0.05), 2)
        for sid in self.thresholds_:
            scheme = self.taxonomy_[sid]
            if sid not in dev_labels.columns:
                continue
            rows = self._rows_for(scheme, dev_labels).to_numpy()
            if not rows.any():
                continue
            gold = np.array([[c in scheme.parse(v) for c in scheme.code_list]
                             for v in dev_labels.loc[rows, sid]], dtype=bool)
            P = probs[sid][rows]
            for j, code in enumerate(scheme.code_list):
                if gold[:, j].any():
                    scores = [f1_score(gold[:, j], P[:, j] >= t, zero_division=0) for t in grid]
                    self.thresholds_[sid][code] = float(grid[int(np.argmax(scores))])
            plain = self._decide_multi(sid, P, at_least_one=False)
            forced = self._decide_multi(sid, P, at_least_one=True)
            f_plain = f1_score(gold, plain, average="micro", zero_division=0)
            f_forced = f1_score(gold, forced, average="micro", zero_division=0)
            self.at_least_one_[sid] = bool(f_forced > f_plain)
        if self.tune_offsets:
            self.offsets_ = {}
            margins = self.margins(X)
            for sid in self.schemes_:
                scheme = self.taxonomy_[sid]
                if scheme.multi or sid == QUALITY or sid not in dev_labels.columns:
                    continue
                rows = self._rows_for(scheme, dev_labels).to_numpy()
                if rows.sum() >= 30:
                    S = margins[sid][rows] if sid in margins else np.log(np.clip(probs[sid][rows], 1e-9, 1))
                    self.offsets_[sid] = self._tune_offset(scheme.code_list, S, dev_labels.loc[rows, sid].to_numpy())

    @staticmethod
    def _tune_offset(codes: list[str], S: np.ndarray, gold: np.ndarray) -> np.ndarray:
        """Per-code offsets to the decision scores ``S`` (log-probabilities or margins) raising dev
        macro-F1: coordinate ascent on a grid scaled to the scores; a change must gain at least
        half a point, so noise on a few dev rows does not move a code."""
        codes_arr = np.array(codes)
        present = [c for c in codes if c in set(gold)]
        finite = S[np.isfinite(S)]
        unit = float(finite.std()) if finite.size else 1.0

        def score(o: np.ndarray) -> float:
            return f1_score(gold, codes_arr[(S + o).argmax(axis=1)], labels=present, average="macro",
                            zero_division=0)

        off = np.zeros(len(codes))
        best = score(off)
        for _ in range(2):
            for j in range(len(codes)):
                for value in (-0.5 * unit, -0.25 * unit, 0.25 * unit, 0.5 * unit):
                    trial = off.copy()
                    trial[j] = value
                    s = score(trial)
                    if s > best + 0.005:
                        best, off = s, trial
        return off

    # --------------------------------------------------------------- prediction
    def _feature_texts(self, norm: list[str]) -> list[str]:
        """What the features see. ``placeholders="drop"``: anonymisation placeholders lose their
        某 (某县住建局 -> 县住建局, 张某 -> 张), so 某 cannot stand in for substance."""
        if getattr(self, "placeholders", "keep") == "drop":
            return [drop_placeholders(t) for t in norm]
        return norm

    def transform(self, texts, normalized: bool = False):
        norm = list(texts) if normalized else [normalize(str(t)) for t in texts]
        return self.features_.transform(self._feature_texts(norm))

    def predict_proba(self, texts, normalized: bool = False, X=None) -> dict[str, np.ndarray]:
        """Scheme id -> (n, n_codes) probabilities in ``taxonomy[scheme].code_list`` order.

        Single-label heads give a distribution over codes; multi-label heads an independent
        probability for each code.
        """
        if X is None:
            X = self.transform(texts, normalized)
        out = {}
        for sid in self.schemes_:
            codes = self.taxonomy_[sid].code_list
            head = self.heads_[sid]
            P = np.zeros((X.shape[0], len(codes)))
            if isinstance(head, dict):
                for j, code in enumerate(codes):
                    h = head.get(code)
                    if h is None:
                        continue
                    p = h.proba(X)
                    P[:, j] = p[:, h.classes.index("1")] if "1" in h.classes else 0.0
            else:
                p = head.proba(X)
                t = getattr(self, "temperature_", {}).get(sid, 1.0)
                if t != 1.0 and p.shape[1] == 2:
                    p1 = 1 / (1 + np.exp(-_logit(p[:, 1]) / t))
                    p = np.column_stack([1 - p1, p1])
                for k, c in enumerate(head.classes):
                    if c in codes:
                        P[:, codes.index(c)] = p[:, k]
            out[sid] = P
        return out

    def _decide_multi(self, sid: str, P: np.ndarray, at_least_one: bool | None = None) -> np.ndarray:
        codes = self.taxonomy_[sid].code_list
        t = np.array([self.thresholds_.get(sid, {}).get(c, 0.5) for c in codes])
        chosen = P >= t
        if at_least_one if at_least_one is not None else self.at_least_one_.get(sid, False):
            none = ~chosen.any(axis=1)
            chosen[none, P[none].argmax(axis=1)] = True
        return chosen

    def _decide_single(self, sid: str, P: np.ndarray, M: np.ndarray | None = None) -> np.ndarray:
        """Index of the chosen code. ``decision="raw"``: the largest margin of the class-balanced
        linear model (``M``), so a frequent code (Y0, 不作为) does not absorb rare ones through
        calibration; otherwise the most probable code. Per-code offsets tuned on dev
        (``offsets_``) are added to either."""
        off = getattr(self, "offsets_", {}).get(sid)
        S = M if M is not None else np.log(np.clip(P, 1e-9, 1.0))
        return (S + off).argmax(axis=1) if off is not None else S.argmax(axis=1)

    def margins(self, X) -> dict[str, np.ndarray]:
        """Raw margins of the single-label heads other than 质量, in code_list order (decision="raw")."""
        out = {}
        if getattr(self, "decision", "calibrated") != "raw":
            return out
        for sid in self.schemes_:
            head = self.heads_[sid]
            if isinstance(head, dict) or sid == QUALITY:
                continue
            d = head.scores(X)
            if d is None:
                continue
            codes = self.taxonomy_[sid].code_list
            M = np.full((X.shape[0], len(codes)), -np.inf)
            for k, c in enumerate(head.classes):
                if c in codes:
                    M[:, codes.index(c)] = d[:, k]
            out[sid] = M
        return out

    def predict(self, texts, normalized: bool = False, X=None, probs=None, ungated=None,
                gate: bool = True) -> pd.DataFrame:
        """Codes for every scheme plus ``<scheme>置信度``.

        Rows judged 低质 get only 低质原因, except rows marked in ``ungated`` (e.g. paragraphs of a
        policy document, which are not clues but still address dimensions and categories).
        ``gate=False``: every head's decision on every row (for evaluating heads one by one).
        """
        if getattr(self, "decision", "calibrated") == "raw" and X is None:
            X = self.transform(texts, normalized)
        if probs is None:
            probs = self.predict_proba(texts, normalized, X)
        margins = self.margins(X) if X is not None else {}
        n = len(next(iter(probs.values()))) if probs else 0
        out = {}
        quality = None
        if QUALITY in probs:
            codes = self.taxonomy_[QUALITY].code_list
            quality = np.array(codes)[probs[QUALITY].argmax(axis=1)]
        for sid, P in probs.items():
            scheme = self.taxonomy_[sid]
            if scheme.multi:
                chosen = self._decide_multi(sid, P)
                values = ["|".join(c for c, on in zip(scheme.code_list, row) if on) for row in chosen]
                conf = np.where(chosen.any(axis=1), np.where(chosen, P, 1.0).min(axis=1), 1 - P.max(axis=1))
            else:
                idx = self._decide_single(sid, P, margins.get(sid))
                values = list(np.array(scheme.code_list)[idx])
                conf = P[np.arange(n), idx]
            if gate and quality is not None and scheme.applies_to in (GOOD, LOW):
                keep = quality == scheme.applies_to
                if ungated is not None and scheme.applies_to == GOOD:
                    keep = keep | np.asarray(ungated, dtype=bool)  # a 低质 paragraph keeps its 低质原因 too
                values = [v if k else "" for v, k in zip(values, keep)]
                conf = np.where(keep, conf, np.nan)
            out[sid] = values
            out[f"{sid}置信度"] = np.round(conf, 3)
        return pd.DataFrame(out, index=range(n))

    # ------------------------------------------------------------- explanation
    def _display_names(self) -> np.ndarray:
        names = []
        for raw in self.features_.get_feature_names_out():
            kind, _, name = raw.partition("__")
            name = name.replace(" ", "")
            # Readable evidence: Chinese words and character runs, or plain ASCII words such as
            # "12345"; mixed runs like "年5" read as noise. No punctuation, no cue counts.
            cjk = all("\u4e00" <= ch <= "\u9fff" for ch in name)
            if kind == "cues" or not all(ch.isalnum() for ch in name):
                name = ""
            elif not cjk and (kind == "chars" or not name.isascii()):
                name = ""
            names.append(name)
        return np.array(names, dtype=str)  # a plain string array: loads fast

    def _evidence_mask(self, sid: str) -> np.ndarray:
        """Features that may serve as evidence for a head: readable (2+ characters) and, for a head
        listed in evidence.toml, containing one of its terms. Built once per head, on first use."""
        masks = self.__dict__.setdefault("_evidence_masks_", {})
        if sid not in masks:
            names = self.feature_names_.astype(str)
            mask = np.char.str_len(names) >= 2
            terms = getattr(self, "evidence_terms_", {}).get(sid)
            if terms:
                found = re.compile("|".join(map(re.escape, terms))).search
                mask &= np.fromiter((found(n) is not None for n in names.tolist()), bool, len(names))
            masks[sid] = mask
        return masks[sid]

    def _evidence_weights(self, sid: str, code: str) -> np.ndarray | None:
        """Weights towards ``code`` kept for evidence: readable features (words or character
        runs of 2+) among the ``EVIDENCE_POOL`` strongest positive ones; zero elsewhere.
        Built on first use and kept out of the model file."""
        cache = self.__dict__.setdefault("_evidence_cache_", {})
        if (sid, code) not in cache:
            head = self.heads_[sid]
            if isinstance(head, dict):
                h = head.get(code)
                w = h.weights(h.classes.index("1")) if h and "1" in h.classes else None
            else:
                w = head.weights(head.classes.index(code)) if code in head.classes else None
            if w is not None:
                w = np.where(self._evidence_mask(sid) & (w > 0), w, 0.0)
                if np.count_nonzero(w) > EVIDENCE_POOL:
                    w[w < np.partition(w, -EVIDENCE_POOL)[-EVIDENCE_POOL]] = 0.0
            cache[(sid, code)] = w
        return cache[(sid, code)]

    def warm_up(self) -> "ClueClassifier":
        """Build the look-up tables that are otherwise built on first use (segmenter, n-gram
        tables, evidence weights), e.g. once in a parent process before forking workers."""
        self.transform(["预热"], normalized=True)
        for sid in self.schemes_:
            for code in self.taxonomy_[sid].code_list:
                self._evidence_weights(sid, code)
        return self

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_evidence_cache_", None)
        state.pop("_evidence_masks_", None)
        return state

    def explain(self, X, predicted: pd.DataFrame, top: int = 3) -> list[dict[str, list[str]]]:
        """For each row, scheme id -> the words that pushed most towards the predicted code."""
        X = X.tocsr()
        n = X.shape[0]
        result: list[dict[str, list[str]]] = [dict() for _ in range(n)]
        for sid in self.schemes_:
            if sid not in predicted.columns:
                continue
            scheme = self.taxonomy_[sid]
            per_row: list[list[str]] = [[] for _ in range(n)]
            # group rows by predicted code: one sparse product per code, not per row
            by_code: dict[str, list[int]] = {}
            for i, value in enumerate(predicted[sid].tolist()):
                for code in scheme.parse(value):
                    by_code.setdefault(code, []).append(i)
            for code, rows in by_code.items():
                w = self._evidence_weights(sid, code)
                if w is None:
                    continue
                for k, words in enumerate(self._top_words(X[rows], w, top)):
                    per_row[rows[k]] += words
            for i, words in enumerate(per_row):
                if words:
                    result[i][sid] = list(dict.fromkeys(words))[: top * 2]
        return result

    def _top_words(self, X, w: np.ndarray, top: int) -> list[list[str]]:
        """Per row of X: up to ``top`` distinct names with the largest positive X*w, none
        contained in another. Sorting is done once for the whole block."""
        C = sp.csr_matrix(X.multiply(w))
        C.eliminate_zeros()
        counts = np.diff(C.indptr)
        row_of = np.repeat(np.arange(C.shape[0]), counts)
        # by row, then by contribution, largest first: one float key (data > 0, so row - share)
        order = np.argsort(row_of - C.data / (C.data.max(initial=0.0) * 1.01 + 1e-300))
        rank = np.arange(len(order)) - C.indptr[row_of[order]]
        keep = order[rank < 2 * top]
        names = self.feature_names_[C.indices[keep]].tolist()
        out: list[list[str]] = [[] for _ in range(C.shape[0])]
        for r, name in zip(row_of[keep].tolist(), names):
            chosen = out[r]
            if len(chosen) < top and not any(name in c or c in name for c in chosen):
                chosen.append(name)
        return out
