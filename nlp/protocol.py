"""The evaluation protocol: figures that predict how a model does on text our writers did not write.

Parts (each gives accuracy and macro-F1 per head; 维度 also micro-F1):

    cross_writer   train on earlier writing rounds, predict a later round (other writers, later rules);
    group_folds    k folds grouped by case note (rewrites of one note never on both sides);
    voice_out      train on every voice but one (来信, 热线, 巡察 …), predict the held-out voice;
    names          the same held-out rows with placeholders (某县, 张某) replaced by concrete fictional
                   names and concrete names replaced by placeholders: labels must not move;
    fragments      texts that are not clues ("某区", "同上", a date …): refused (低质, 质量分 < 20).

Used by ``bench/eval_protocol.py`` (``make eval``) to choose learners; the test split of the corpus is
only a secondary table. Nothing here reads or writes files.
"""

from __future__ import annotations

import random
import time

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold

from nlp.model import ClueClassifier
from nlp.names import has_placeholder, to_concrete, to_placeholder
from nlp.report import evaluate

# Fragments a real intake system receives that are not clues. Kept in code, not data: they are the
# protocol's fixed probe set, and changing them changes every reported figure.
FRAGMENTS = ["某区", "2023年", "某县住建局", "县里", "无", "12345", "同上", "测试", "详见附件", "。。。",
             "反映内容：", "青石镇柳河村", "2024年3月5日", "城南派出所", "13800138000", "？？", "某某",
             "安平县", "见上", "某局不作为", "关于问题的反映", "此件", "附件", "请查收", "投诉", "举报", "你好",
             "在吗", "张某某", "——", "东湖街道办事处", "来电人反映：", "2022.05", "王建国", "一直没人管",
             "县城管局", "附件1", "不作为", "标题：关于某镇的问题", "无内容"]

def head_scores(model, texts: list[str], labels: pd.DataFrame) -> dict:
    ev = evaluate(model, texts, labels)
    out = {}
    for sid, h in ev["heads"].items():
        out[sid] = {"n": h.get("n", h.get("support")),
                    "acc": round(h.get("accuracy", h.get("subset_accuracy", float("nan"))), 3),
                    "macro_f1": round(h["macro_f1"], 3)}
        if "micro_f1" in h:
            out[sid]["micro_f1"] = round(h["micro_f1"], 3)
        out[sid]["per_class"] = {c: {"p": round(v["precision"], 3), "r": round(v["recall"], 3), "n": v["support"]}
                                 for c, v in h.get("per_class", {}).items()}
    return out


def pooled(parts: list[tuple[list[str], pd.DataFrame, "ClueClassifier"]]) -> dict:
    """Scores over the union of several held-out parts, each predicted by its own model."""
    preds, golds = [], []
    for texts, labels, model in parts:
        preds.append(model.predict(texts, gate=False))
        golds.append(labels)
    return _score_frames(pd.concat(preds, ignore_index=True), pd.concat(golds, ignore_index=True),
                         parts[0][2])


def score_delta(before: dict, after: dict) -> dict:
    """Per head: macro-F1 (and micro-F1 where there is one) after minus before, in points."""
    out = {}
    for sid, a in before["heads"].items():
        b = after["heads"].get(sid)
        if b is None:
            continue
        out[sid] = {k: round(100 * (b[k] - a[k]), 2) for k in ("macro_f1", "micro_f1") if k in a and k in b}
    return out


def _score_frames(pred: pd.DataFrame, gold: pd.DataFrame, model) -> dict:
    from nlp.report import score_predictions

    return score_predictions(model.taxonomy_, pred, gold)


class Protocol:
    """Runs the protocol's parts for one learner setting (keyword arguments of ClueClassifier)."""

    def __init__(self, df: pd.DataFrame, cols: list[str], seed: int = 20261122, folds: int = 3,
                 later_round: pd.Series | None = None, min_voice_rows: int = 80):
        self.df = df.reset_index(drop=True)
        self.cols = cols
        self.seed = seed
        self.folds = folds
        self.later = later_round.reset_index(drop=True) if later_round is not None else None
        self.min_voice_rows = min_voice_rows

    def _fit(self, rows: pd.DataFrame, kw: dict) -> ClueClassifier:
        from nlp.training import row_groups

        model = ClueClassifier(random_state=self.seed, **kw)
        dev = rows[rows["split"] == "dev"] if "split" in rows.columns else rows.iloc[:0]
        fit_rows = rows.drop(dev.index) if len(dev) >= 50 else rows
        return model.fit(fit_rows["text"].tolist(), fit_rows[self.cols],
                         dev["text"].tolist() if len(dev) >= 50 else None,
                         dev[self.cols] if len(dev) >= 50 else None, groups=row_groups(fit_rows),
                         dev_groups=row_groups(dev) if len(dev) >= 50 else None)

    def cross_writer(self, kw: dict) -> tuple[dict, ClueClassifier]:
        later = self.later
        model = self._fit(self.df[~later], kw)
        held = self.df[later]
        return head_scores(model, held["text"].tolist(), held[self.cols]), model

    def group_folds(self, kw: dict) -> dict:
        groups = [c if c else f"row:{i}" for i, c in enumerate(self.df["case"].fillna("").astype(str))]
        parts = []
        for train, test in GroupKFold(n_splits=self.folds).split(self.df, groups=groups):
            model = self._fit(self.df.iloc[train], kw)
            held = self.df.iloc[test]
            parts.append((held["text"].tolist(), held[self.cols], model))
        return pooled(parts)

    def voice_out(self, kw: dict) -> dict:
        out = {}
        for voice, n in self.df["voice"].value_counts().items():
            if n < self.min_voice_rows or not voice:
                continue
            held = self.df["voice"] == voice
            model = self._fit(self.df[~held], kw)
            rows = self.df[held]
            out[voice] = head_scores(model, rows["text"].tolist(), rows[self.cols])
        return out

    def names(self, model: ClueClassifier, rows: pd.DataFrame) -> dict:
        """Held-out rows as written and with names swapped: scores of both and the share of rows
        whose label changed, per head."""
        rng = random.Random(self.seed)
        tok = model.tokenizer_
        texts = rows["text"].tolist()
        swapped = [to_concrete(t, rng) if has_placeholder(t) else to_placeholder(t, tok) for t in texts]
        changed_rows = np.array([a != b for a, b in zip(texts, swapped)])
        a, b = model.predict(texts, gate=False), model.predict(swapped, gate=False)
        gold = rows[self.cols].reset_index(drop=True)
        sa = _score_frames(a, gold, model)
        sb = _score_frames(b, gold, model)
        flips = {sid: round(float((a[sid] != b[sid])[changed_rows].mean()), 3) for sid in self.cols if sid in a}
        # The target: naming moves no head's score by more than 3 points. Deltas (swapped minus
        # as written) over all held-out rows and over the rows whose text the swap changed.
        ca = _score_frames(a[changed_rows], gold[changed_rows], model)
        cb = _score_frames(b[changed_rows], gold[changed_rows], model)
        return {"rows_swapped": int(changed_rows.sum()), "as_written": sa, "swapped": sb, "label_flips": flips,
                "score_delta": score_delta(sa, sb), "score_delta_swapped_rows": score_delta(ca, cb)}

    def fragments(self, model: ClueClassifier) -> dict:
        from nlp.pipeline import Annotator

        out = Annotator(model).annotate_texts(FRAGMENTS)
        refused = (out["质量"] == "低质") & (out["质量分"].astype(int) < 20)
        return {"refused": int(refused.sum()), "of": len(FRAGMENTS),
                "passed": [t for t, r in zip(FRAGMENTS, refused) if not r]}

    def run(self, kw: dict, parts: tuple[str, ...]) -> dict:
        t0 = time.time()
        result: dict = {}
        if self.later is not None and ("cross_writer" in parts or "names" in parts or "fragments" in parts):
            scores, model = self.cross_writer(kw)
            if "cross_writer" in parts:
                result["cross_writer"] = scores
            if "names" in parts:
                result["names"] = self.names(model, self.df[self.later])
            if "fragments" in parts:
                result["fragments"] = self.fragments(model)
        if "group_folds" in parts:
            result["group_folds"] = self.group_folds(kw)
        if "voice_out" in parts:
            result["voice_out"] = self.voice_out(kw)
        result["seconds"] = round(time.time() - t0, 1)
        return result
