"""Stage: heads — evidence (依据): the words that pushed a row towards its predicted code.

Drawn from the strongest positive weights of each code among readable features (Chinese words
and character runs of 2+); for a head listed in nlp/data/evidence.toml only features containing
one of its terms (for 作为类型 the conduct, not the topic). ``EvidenceMixin`` is mixed into
``ClueClassifier``; it needs ``features_``, ``heads_``, ``schemes_``, ``taxonomy_``,
``feature_names_`` and ``evidence_terms_``.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import scipy.sparse as sp

EVIDENCE_POOL = 4000


def evidence_terms() -> dict[str, tuple[str, ...]]:
    """Per head, the terms an evidence feature must contain (nlp/data/evidence.toml)."""
    import tomllib

    from nlp.segment import data_path

    data = tomllib.loads(data_path("evidence.toml").read_text(encoding="utf-8"))
    return {sid: tuple(v.get("contains", ())) for sid, v in data.items()}


def display_names(features) -> np.ndarray:
    """Readable name of every feature column ("" for columns never shown as evidence)."""
    names = []
    for raw in features.get_feature_names_out():
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


class EvidenceMixin:
    """``explain`` and its look-up tables (built on first use, kept out of the model file)."""

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
        runs of 2+) among the ``EVIDENCE_POOL`` strongest positive ones; zero elsewhere."""
        cache = self.__dict__.setdefault("_evidence_cache_", {})
        if (sid, code) not in cache:
            head = self.heads_[sid]
            if isinstance(head, dict):
                h = head.get(code)
                w = h.weights(h.classes.index("1")) if h and "1" in h.classes else None
            else:
                w = head.weights(head.classes.index(code)) if code in head.classes else None
            if w is not None:
                w = w[: len(self.feature_names_)]  # stacked columns (other heads' scores) are no words
                w = np.where(self._evidence_mask(sid) & (w > 0), w, 0.0)
                if np.count_nonzero(w) > EVIDENCE_POOL:
                    w[w < np.partition(w, -EVIDENCE_POOL)[-EVIDENCE_POOL]] = 0.0
            cache[(sid, code)] = w
        return cache[(sid, code)]

    def warm_up(self):
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
