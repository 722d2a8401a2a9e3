"""Stage: heads — decision rules: from scores to codes, and how they are set.

- single-label heads: the code with the largest (class-balanced) margin plus a per-code offset;
- multi-label heads (维度): every code whose probability reaches its threshold, optionally at
  least one code a row;
- 质量: a temperature that softens the probability (confidence only).

Offsets, thresholds and the at-least-one rule are set on held-out predictions (out-of-fold
predictions on the training rows, grouped by case note, or dev rows), never on test rows.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.metrics import f1_score

THRESHOLD_GRID = np.round(np.arange(0.15, 0.86, 0.05), 2)


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def decide_multi(P: np.ndarray, thresholds: np.ndarray, at_least_one: bool) -> np.ndarray:
    chosen = P >= thresholds
    if at_least_one:
        none = ~chosen.any(axis=1)
        chosen[none, P[none].argmax(axis=1)] = True
    return chosen


def tune_thresholds(codes: list[str], P: np.ndarray, gold: np.ndarray, rule: str = "f1"
                    ) -> tuple[dict[str, float], bool]:
    """Per-code thresholds, then whether forcing at least one code a row raises micro-F1.
    ``P``: held-out probabilities (n, n_codes); ``gold``: boolean (n, n_codes). ``rule="f1"``: each
    code's threshold maximises its F1; ``"rate"``: each code is chosen as often as it is labelled
    (a frequent code cannot become a sink, a rare one keeps its share)."""
    thresholds: dict[str, float] = {}
    for j, code in enumerate(codes):
        if rule == "rate" and gold[:, j].any():
            thresholds[code] = float(np.quantile(P[:, j], 1 - gold[:, j].mean()))
        elif gold[:, j].any():
            scores = [f1_score(gold[:, j], P[:, j] >= t, zero_division=0) for t in THRESHOLD_GRID]
            thresholds[code] = float(THRESHOLD_GRID[int(np.argmax(scores))])
    t = np.array([thresholds.get(c, 0.5) for c in codes])
    f_plain = f1_score(gold, decide_multi(P, t, False), average="micro", zero_division=0)
    f_forced = f1_score(gold, decide_multi(P, t, True), average="micro", zero_division=0)
    return thresholds, bool(f_forced > f_plain)


def tune_offsets(codes: list[str], S: np.ndarray, gold: np.ndarray, min_gain: float = 0.005,
                 steps: tuple[float, ...] = (-0.5, -0.25, 0.25, 0.5)) -> np.ndarray:
    """Per-code offsets to the decision scores ``S`` (margins or log-probabilities, code order)
    raising macro-F1 of held-out rows: coordinate ascent on a grid scaled to the scores; a change
    must gain at least ``min_gain``, so noise on a few rows does not move a code."""
    codes_arr = np.array(codes)
    present = [c for c in codes if c in set(gold)]
    finite = S[np.isfinite(S) & (S > -1e3)]
    unit = float(finite.std()) if finite.size else 1.0

    def score(o: np.ndarray) -> float:
        return f1_score(gold, codes_arr[(S + o).argmax(axis=1)], labels=present, average="macro",
                        zero_division=0)

    off = np.zeros(len(codes))
    best = score(off)
    for _ in range(2):
        for j in range(len(codes)):
            for value in steps:
                trial = off.copy()
                trial[j] = value * unit
                s = score(trial)
                if s > best + min_gain:
                    best, off = s, trial
    return off


def fit_temperature(p: np.ndarray, target: np.ndarray) -> float:
    """T in [1, 5] minimising the log-loss of held-out probabilities ``p`` when each logit is
    divided by T. Ranks and decisions are unchanged; only confidence softens."""
    z = logit(p)

    def loss(t: float) -> float:
        q = np.clip(1 / (1 + np.exp(-z / t)), 1e-9, 1 - 1e-9)
        return float(-np.mean(target * np.log(q) + (1 - target) * np.log(1 - q)))

    return round(float(minimize_scalar(loss, bounds=(1.0, 5.0), method="bounded").x), 3)
