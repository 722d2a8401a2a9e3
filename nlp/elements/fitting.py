"""Fit the element extractor's parts together: the character tagger, the row-level presence
model, and per element the tagger bias and the presence thresholds, chosen on held-out folds
grouped by case note (presence accuracy after the rules, as the officer sees it).
"""

from __future__ import annotations

import numpy as np

from nlp.elements.patterns import ELEMENTS
from nlp.elements.presence import FOUND_TH, MISSING_TH, PresenceModel, present_matrix
from nlp.elements.rules import Rules
from nlp.elements.tagger import ElementTagger, decode, element_bias, viterbi

BIAS_GRID = (0.0, 0.5, 1.0, 2.0)
# The fold taggers choose the bias and thresholds for the final tagger, so they are trained like it:
# with fewer L-BFGS iterations their scores are less confident than the final tagger's and the
# settings do not carry over (grouped 5-fold CV, 3,682 rows: mean presence accuracy .875 -> .884,
# missing-flag F1 .812 -> .833).
TUNE_ITERATIONS = ElementTagger().max_iterations


def fit_extractor(texts: list[str], spans: list, groups: list[str], vectorize, tokenizer, folds: int = 2,
                  min_tune_rows: int = 200) -> tuple[ElementTagger, PresenceModel]:
    """(tagger, presence model) fitted on all rows, their settings tuned on ``folds`` grouped
    folds when there are at least ``min_tune_rows`` rows. ``vectorize(texts)`` gives the
    classifier's feature rows."""
    from sklearn.model_selection import GroupKFold

    texts, spans = list(texts), list(spans)
    Y = present_matrix(spans)
    X = vectorize(texts)
    settings = None
    if folds > 1 and len(texts) >= min_tune_rows and len(set(groups)) >= folds:
        rules = Rules.load()
        hits = np.zeros((len(ELEMENTS), len(BIAS_GRID), len(FOUND_TH), len(MISSING_TH)))
        for train, held in GroupKFold(folds).split(texts, groups=groups):
            sub = ElementTagger(max_iterations=TUNE_ITERATIONS).fit([texts[i] for i in train],
                                                                    [spans[i] for i in train], tokenizer=tokenizer)
            P = PresenceModel().fit(X[train], Y[train]).predict_proba(X[held])
            part = [texts[i] for i in held]
            E, rows, lens = sub.emissions(part)
            for j, b in enumerate(BIAS_GRID):
                found = decode(viterbi(E + element_bias([b] * len(ELEMENTS)), rows, lens, sub.transitions_,
                                       sub.start_), rows, lens)
                F = present_matrix([rules.trim(t, f) for t, f in zip(part, found)])
                for a, th_found in enumerate(FOUND_TH):
                    for c, th_missing in enumerate(MISSING_TH):
                        D = np.where(F, P >= th_found, P >= th_missing)
                        hits[:, j, a, c] += (D == Y[held]).sum(axis=0)
        settings = [np.unravel_index(int(h.argmax()), h.shape) for h in hits]
    tagger = ElementTagger().fit(texts, spans, tokenizer=tokenizer)
    presence = PresenceModel().fit(X, Y)
    if settings is not None:
        tagger.bias_ = element_bias([BIAS_GRID[j] for j, _, _ in settings])
        presence.found_threshold_ = np.array([FOUND_TH[a] for _, a, _ in settings])
        presence.missing_threshold_ = np.array([MISSING_TH[c] for _, _, c in settings])
    return tagger, presence
