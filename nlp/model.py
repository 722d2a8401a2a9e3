"""Stage: heads. The multi-head clue classifier, a scikit-learn style estimator.

One shared feature space (``nlp.features``), one linear head per taxonomy scheme: 质量, 低质原因,
维度 (multi-label, one binary head per code), 作为类型, 东丽类别, 盐山类别 and any scheme a user adds
to the taxonomy data. Each head's learner, feature family, decision offsets and stacked inputs are
data (``nlp/data/heads.toml``, read by ``nlp.heads.config``), chosen by the evaluation protocol.

Every head is fitted once on all its rows and three times on grouped folds (rows rewritten from one
case note stay on one side); the out-of-fold margins calibrate its probabilities (sigmoid), set its
decision offsets (single-label) or thresholds (维度), and serve as the stacked input of another head.

It knows nothing of files or the command line: ``fit(texts, labels)``, ``predict(texts)``,
``predict_proba(texts)``, ``explain(X, predicted)``. Learners: ``nlp.heads.learners``; decision
rules: ``nlp.heads.decisions``; fitting on grouped folds: ``nlp.heads.fitting``; each head's input
(encoder table vectors, stacked scores): ``nlp.heads.inputs``; evidence: ``nlp.heads.evidence``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator

from nlp.features import make_features
from nlp.heads.config import feature_family, load_head_settings
from nlp.heads.decisions import decide_multi, logit, tune_offsets, tune_thresholds
from nlp.heads.evidence import EvidenceMixin, display_names, evidence_terms
from nlp.heads.fitting import FittingMixin, _sigmoid_of
from nlp.heads.inputs import InputsMixin
from nlp.heads.evidence import EVIDENCE_POOL  # noqa: F401  (public name kept)
from nlp.heads.learners import Head
from nlp.names import drop_placeholders
from nlp.normalize import normalize
from nlp.segment import Tokenizer
from nlp.taxonomy import GOOD, LOW, QUALITY, Scheme, Taxonomy, load_taxonomy

# Bumped when a model file of older code would decide differently: the registry then rebuilds the
# default model on first use (nlp.registry.library_versions).
MODEL_FORMAT = "heads-3"

__all__ = ["ClueClassifier", "Head", "MODEL_FORMAT"]


class ClueClassifier(FittingMixin, InputsMixin, EvidenceMixin, BaseEstimator):
    """Multi-head classifier of clues and bulletin text.

    Parameters
    ----------
    taxonomy_path : taxonomy TOML; None for the bundled one.
    backend : segmentation backend ("auto", "rjieba", "jieba").
    heads_path : per-head learner settings (TOML); None for the bundled ``nlp/data/heads.toml``.
    learner, C : when set, every head uses this learner ("svm", "lr", "sgd", "nbsvm"; "logreg"
        is "lr") or C instead of its settings (for comparisons).
    tune_offsets : when set, overrides every head's ``offsets`` setting.
    calibration_folds : grouped folds for the out-of-fold margins.
    max_char_features : cap on character n-gram features (None: every n-gram seen twice).
    cues : add counts of the taxonomy's cue terms as features.
    placeholders : "drop" makes features blind to anonymisation placeholders (某县 reads as 县),
        so a placeholder cannot stand in for substance; "keep" leaves the text as it is.
    name_copies : train on a second copy of every row that names something, with placeholders
        turned into concrete fictional names and concrete names into placeholders (same labels,
        same fold group), so a name does not move a label. Off by default: under the protocol it
        lowered label flips on renaming (9.1% -> 7.9%) but cost 质量 3 points and 低质原因 3 points
        cross-writer.
    embed : heads whose ``features`` end in "+embed" get the encoder table's text vectors
        (``nlp.embed``); False: every head without them (for comparisons).
    decision : "raw" chooses a single-label category by the class-balanced margins plus offsets
        (calibrated probabilities are still reported as confidence); "calibrated" by the probabilities.
    random_state : seed; the same data and seed give the same model.

    Defaults were chosen by the evaluation protocol (``make eval``: cross-writer, grouped folds,
    leave-voice-out, names swap, fragments), not by the test split.
    """

    def __init__(self, taxonomy_path: str | None = None, backend: str = "auto", heads_path: str | None = None,
                 learner: str | None = None, C: float | None = None, calibration_folds: int = 3,
                 max_char_features: int | None = None, tune_offsets: bool | None = None, cues: bool = False,
                 placeholders: str = "drop", name_copies: bool = False, decision: str = "raw",
                 embed: bool = True, random_state: int = 0):
        self.taxonomy_path = taxonomy_path
        self.backend = backend
        self.heads_path = heads_path
        self.learner = learner
        self.C = C
        self.calibration_folds = calibration_folds
        self.max_char_features = max_char_features
        self.tune_offsets = tune_offsets
        self.cues = cues
        self.placeholders = placeholders
        self.name_copies = name_copies
        self.decision = decision
        self.embed = embed
        self.random_state = random_state

    # ------------------------------------------------------------------ settings
    def _settings(self) -> dict[str, dict]:
        default, heads = load_head_settings(self.heads_path)
        out = {}
        for scheme in self.taxonomy_.schemes:
            s = dict(heads.get(scheme.id, default))
            if self.learner is not None:
                s["learner"] = "lr" if self.learner == "logreg" else self.learner
                s["features"], s["stack"] = "all", []
            if not self.embed:
                s["features"] = feature_family(s["features"])[0]
            if self.C is not None:
                s["C"] = float(self.C)
            if self.tune_offsets is not None:
                s["offsets"] = bool(self.tune_offsets)
            s["stack"] = [x for x in s["stack"] if x in self.taxonomy_.ids and x != scheme.id]
            out[scheme.id] = s
        return out

    def _columns(self, family: str) -> np.ndarray | None:
        family = feature_family(family)[0]
        if family == "all":
            return None
        prefix = {"words": "words__", "chars": "chars__"}[family]
        names = self.features_.get_feature_names_out()
        return np.char.startswith(names.astype(str), prefix)

    # ------------------------------------------------------------------ fitting
    def fit(self, texts, labels: pd.DataFrame, dev_texts=None, dev_labels: pd.DataFrame | None = None,
            groups=None, shift=None, dev_groups=None):
        """Fit every head. ``labels`` has one column per scheme id (codes as in the taxonomy).

        Dev rows, when given, join the training rows: offsets, thresholds and calibration are set
        on out-of-fold predictions of all of them. ``groups`` (and ``dev_groups``): rows with the
        same group (e.g. rewrites of one case note) never fall on both sides of a fold.
        ``shift``: a register per row (e.g. 来信, 热线, 巡察). The 质量 head's probabilities are
        softened by a temperature fitted on predictions for registers left out of training, so
        质量分 reflects how the model does on text unlike its training rows (see ``temperature_``).
        """
        texts = list(texts)
        labels = labels.reset_index(drop=True)
        n_train = len(texts)
        if groups is None:
            groups = [f"row:{i}" for i in range(n_train)]
        groups = [str(g) for g in groups]
        if dev_texts is not None and dev_labels is not None and len(dev_texts):
            texts = texts + list(dev_texts)
            labels = pd.concat([labels, dev_labels.reset_index(drop=True)], ignore_index=True)
            dg = dev_groups if dev_groups is not None else [f"dev:{i}" for i in range(len(dev_texts))]
            groups = groups + [f"dev|{g}" for g in dg]
            if shift is not None:
                shift = list(shift) + [""] * len(dev_texts)  # unknown register: left out of the temperature
        self.taxonomy_: Taxonomy = load_taxonomy(self.taxonomy_path)
        self.tokenizer_ = Tokenizer(self.backend)
        if self.name_copies:
            texts, labels, groups, shift = self._with_name_copies(texts, labels, groups, shift)
        groups = np.asarray(groups, dtype=object)
        shift = None if shift is None else np.asarray([str(s) for s in shift], dtype=object)
        self.temperature_: dict[str, float] = {}
        self.settings_ = self._settings()
        norm = self._feature_texts([normalize(str(t)) for t in texts])
        self.features_ = make_features(self.tokenizer_, self.taxonomy_, max_chars=self.max_char_features,
                                       cues=self.cues)
        X = self.features_.fit_transform(norm).tocsr()
        self._fit_embedding(norm, X)
        labels = labels.fillna("").astype(str)
        self.heads_: dict[str, Head | dict[str, Head]] = {}
        self.schemes_: list[str] = []
        self.thresholds_: dict[str, dict[str, float]] = {}
        self.at_least_one_: dict[str, bool] = {}
        self.offsets_: dict[str, np.ndarray] = {}
        self._oof: dict[str, np.ndarray] = {}  # out-of-fold scores of every row, for stacking
        for scheme in self._fit_order():
            if scheme.id not in labels.columns:
                continue
            rows = self._rows_for(scheme, labels).to_numpy()
            if not rows.any():
                continue
            self._fit_scheme(scheme, X, labels, rows, groups, shift)
            self.schemes_.append(scheme.id)
        self.schemes_ = [s for s in self.taxonomy_.ids if s in self.schemes_]  # taxonomy order
        del self._oof, self._E
        self.feature_names_ = display_names(self.features_)
        self.evidence_terms_ = evidence_terms()
        return self

    def _fit_order(self) -> list[Scheme]:
        """Schemes whose scores another head stacks come first."""
        order, seen = [], set()

        def visit(sid: str, path: tuple = ()):
            if sid in seen or sid in path:
                return
            for src in self.settings_[sid]["stack"]:
                visit(src, path + (sid,))
            seen.add(sid)
            order.append(self.taxonomy_[sid])

        for s in self.taxonomy_.schemes:
            visit(s.id)
        return order

    @staticmethod
    def _rows_for(scheme: Scheme, labels: pd.DataFrame) -> pd.Series:
        has = labels[scheme.id].str.strip() != ""
        if scheme.applies_to == "all":
            return has
        quality = labels[QUALITY] if QUALITY in labels.columns else pd.Series([GOOD] * len(labels))
        in_scope = quality == scheme.applies_to
        # A multi-label cell may be legitimately empty ("no dimension"); single ones must be set.
        return in_scope if scheme.multi else (in_scope & has)

    def _fit_scheme(self, scheme: Scheme, X, labels: pd.DataFrame, rows: np.ndarray, groups, shift) -> None:
        sid = scheme.id
        s = self.settings_[sid]
        Z = self._train_stack(sid, X)
        Xs = self._stacked(sid, X, Z, self._E)
        Xr, g = Xs[rows], groups[rows]
        if scheme.multi:
            codes = scheme.code_list
            sets = [set(scheme.parse(v)) for v in labels.loc[rows, sid]]
            gold = np.array([[c in st for c in codes] for st in sets], dtype=bool)
            heads, P_oof = {}, np.zeros(gold.shape)
            full = np.zeros((X.shape[0], len(codes)))
            for j, code in enumerate(codes):
                y = np.where(gold[:, j], "1", "0")
                head, M = self._fit_head(Xr, y, g, s)
                heads[code] = head
                if head.estimator is not None:
                    full[:, j] = head.scores(Xs)[:, 1]
                    if M is not None:
                        P_oof[:, j] = _sigmoid_of(head.estimator, M, y)
                        full[rows, j] = M[:, 1]
                    else:
                        P_oof[:, j] = head.proba(Xr)[:, head.classes.index("1")]
            self.heads_[sid] = heads
            self.thresholds_[sid], self.at_least_one_[sid] = tune_thresholds(codes, P_oof, gold, s["thresholds"])
            self._oof[sid] = full
            return
        y = labels.loc[rows, sid].to_numpy()
        head, M = self._fit_head(Xr, y, g, s)
        self.heads_[sid] = head
        if head.estimator is None:
            return
        codes = scheme.code_list
        if s["offsets"] and sid != QUALITY and M is not None:
            S = np.full((len(y), len(codes)), -1e6)
            for k, c in enumerate(head.classes):
                if c in codes:
                    S[:, codes.index(c)] = M[:, k]
            self.offsets_[sid] = tune_offsets(codes, S, y)
        full = head.scores(Xs)
        if M is not None:
            full[rows] = M
        self._oof[sid] = full[:, 1:] if full.shape[1] == 2 else full
        if sid == QUALITY and shift is not None:
            self.temperature_[QUALITY] = self._fit_temperature(Xr, y, g, shift[rows], s, head)

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
        inputs = self._inputs(X)
        out = {}
        for sid in self.schemes_:
            codes = self.taxonomy_[sid].code_list
            head = self.heads_[sid]
            Xh = inputs[sid]
            P = np.zeros((X.shape[0], len(codes)))
            if isinstance(head, dict):
                for j, code in enumerate(codes):
                    h = head.get(code)
                    if h is None:
                        continue
                    p = h.proba(Xh)
                    P[:, j] = p[:, h.classes.index("1")] if "1" in h.classes else 0.0
            else:
                p = head.proba(Xh)
                t = getattr(self, "temperature_", {}).get(sid, 1.0)
                if t != 1.0 and p.shape[1] == 2:
                    p1 = 1 / (1 + np.exp(-logit(p[:, 1]) / t))
                    p = np.column_stack([1 - p1, p1])
                for k, c in enumerate(head.classes):
                    if c in codes:
                        P[:, codes.index(c)] = p[:, k]
            out[sid] = P
        return out

    def _decide_multi(self, sid: str, P: np.ndarray, at_least_one: bool | None = None) -> np.ndarray:
        codes = self.taxonomy_[sid].code_list
        t = np.array([self.thresholds_.get(sid, {}).get(c, 0.5) for c in codes])
        one = at_least_one if at_least_one is not None else self.at_least_one_.get(sid, False)
        return decide_multi(P, t, one)

    def _decide_single(self, sid: str, P: np.ndarray, M: np.ndarray | None = None) -> np.ndarray:
        """Index of the chosen code. ``decision="raw"``: the largest margin of the class-balanced
        linear model (``M``), so a frequent code (Y0, 不作为) does not absorb rare ones through
        calibration; otherwise the most probable code. Per-code offsets (``offsets_``, set on
        out-of-fold margins) are added to either."""
        off = getattr(self, "offsets_", {}).get(sid)
        S = M if M is not None else np.log(np.clip(P, 1e-9, 1.0))
        return (S + off).argmax(axis=1) if off is not None else S.argmax(axis=1)

    def margins(self, X) -> dict[str, np.ndarray]:
        """Raw margins of the single-label heads other than 质量, in code_list order (decision="raw")."""
        out = {}
        if getattr(self, "decision", "calibrated") != "raw":
            return out
        inputs = self._inputs(X)
        for sid in self.schemes_:
            head = self.heads_[sid]
            if isinstance(head, dict) or sid == QUALITY:
                continue
            d = head.scores(inputs[sid])
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

