"""Fast per-head learner comparison under the evaluation protocol's splits (not a test).

    python bench/compare_learners.py --heads 作为类型,盐山类别 --learners svm0.5,lr10,nbsvm1
    python bench/compare_learners.py --splits cw,g,v          # cross-writer, grouped folds, voice-out

The protocol (nlp/protocol.py, ``make eval``) refits the whole ClueClassifier for every split; this
script segments every text once, builds the feature blocks once per split and fits only the head
being compared, so dozens of learner settings fit in minutes. Splits are the protocol's: cw = train
on the earlier writing rounds, predict the latest; g = 3 folds grouped by case note; v = leave one
voice out (voices with >= 80 rows). Scores: macro-F1 and accuracy per head over the pooled held-out
rows of each split family (维度: micro-F1 too). Output: bench/out/learners.json and a table.
The chosen settings are written as data in nlp/data/heads.toml.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.model_selection import GroupKFold

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nlp.corpus import read_corpus  # noqa: E402
from nlp.heads.learners import MaskedLinear  # noqa: E402
from nlp.names import drop_placeholders  # noqa: E402
from nlp.normalize import normalize  # noqa: E402
from nlp.segment import Tokenizer  # noqa: E402
from nlp.taxonomy import QUALITY, load_taxonomy  # noqa: E402

HEADS = ["质量", "低质原因", "维度", "作为类型", "东丽类别", "盐山类别"]


def parse_config(name: str) -> dict:
    """"lr:C=10:feat=wc:chars=1-4:stack=1" -> {"learner": "lr", "C": 10.0, ...}."""
    parts = name.split(":")
    cfg: dict = {"learner": parts[0]}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        try:
            cfg[k] = float(v)
        except ValueError:
            cfg[k] = v
    return cfg


class _Words:
    def __call__(self, ws):
        return ws + [a + " " + b for a, b in zip(ws, ws[1:])]


class FeatureBlocks:
    """Feature families fitted on the training rows of one split, transformed for every row."""

    def __init__(self, words, texts, train_mask, families=("1-3",)):
        idx = np.flatnonzero(train_mask)
        w = TfidfVectorizer(analyzer=_Words(), min_df=2, max_features=80_000, sublinear_tf=True)
        w.fit([words[i] for i in idx])
        self.blocks = {"w": w.transform(words).tocsr()}
        for fam in families:
            lo, hi = map(int, fam.split("-"))
            c = TfidfVectorizer(analyzer="char", ngram_range=(lo, hi), min_df=2, sublinear_tf=True)
            c.fit([texts[i] for i in idx])
            self.blocks["c" + fam] = c.transform(texts).tocsr()

    def matrix(self, cfg: dict):
        feat = cfg.get("feat", "wc")
        parts = []
        if "w" in feat:
            parts.append(self.blocks["w"])
        if "c" in feat:
            parts.append(self.blocks["c" + str(cfg.get("chars", "1-3"))])
        return sp.hstack(parts).tocsr() if len(parts) > 1 else parts[0]

    def pair(self, cfg: dict, tr, te):
        X = self.matrix(cfg)
        return X[tr], X[te]


def estimator(cfg: dict, seed: int = 0) -> MaskedLinear:
    return MaskedLinear(learner=cfg["learner"], C=float(cfg.get("C", 0.5)), alpha=cfg.get("alpha"),
                        nb_base=str(cfg.get("base", "svm")), random_state=seed)


def oof_margins(cfg: dict, X, y, groups, folds: int = 3) -> np.ndarray:
    """Out-of-fold margins on the training rows (grouped by case note)."""
    classes = np.unique(y)
    M = np.zeros((X.shape[0], len(classes)))
    g = [c if c else f"row:{i}" for i, c in enumerate(pd.Series(groups).fillna("").astype(str))]
    for a, b in GroupKFold(n_splits=folds).split(X, groups=g):
        est = estimator(cfg).fit(X[a], y[a])
        m = est.margins(X[b])
        for k, c in enumerate(est.classes_):
            M[b, list(classes).index(c)] = m[:, k]
        missing = [c for c in classes if c not in est.classes_]
        for c in missing:
            M[b, list(classes).index(c)] = -1e3
    return M


def tune_offsets(M: np.ndarray, y: np.ndarray, classes, rounds: int = 2) -> np.ndarray:
    """Per-class additive offsets to margins maximising macro-F1 on out-of-fold margins."""
    classes = np.asarray(classes)
    unit = float(np.std(M[np.isfinite(M) & (M > -100)]))

    def sc(o):
        return f1_score(y, classes[(M + o).argmax(axis=1)], average="macro", zero_division=0)

    off = np.zeros(len(classes))
    best = sc(off)
    grid = np.array([-0.6, -0.4, -0.2, -0.1, 0.1, 0.2, 0.4, 0.6]) * unit
    for _ in range(rounds):
        for j in range(len(classes)):
            for v in grid:
                t = off.copy()
                t[j] = v
                s = sc(t)
                if s > best + 0.002:
                    best, off = s, t
    return off


def fit_predict_single(cfg: dict, Xtr, ytr, Xte, groups=None):
    est = estimator(cfg).fit(Xtr, ytr)
    M = est.margins(Xte)
    if cfg.get("off"):
        O = oof_margins(cfg, Xtr, ytr, groups)
        M = M + tune_offsets(O, ytr, est.classes_)
    return est.classes_[M.argmax(axis=1)]


def fit_predict_multi(cfg: dict, Xtr, Ytr, Xte, groups=None):
    out = np.zeros((Xte.shape[0], Ytr.shape[1]), bool)
    M = np.zeros((Xte.shape[0], Ytr.shape[1]))
    thr = np.zeros(Ytr.shape[1])
    for j in range(Ytr.shape[1]):
        y = np.where(Ytr[:, j], "1", "0")
        if len(np.unique(y)) < 2:
            M[:, j] = -1e3
            continue
        est = estimator(cfg).fit(Xtr, y)
        M[:, j] = est.margins(Xte)[:, 1]
        if cfg.get("thr"):
            O = oof_margins(cfg, Xtr, y, groups)[:, 1]
            if cfg["thr"] == "rate":  # as many positives out of fold as there are in gold
                thr[j] = np.quantile(O, 1 - Ytr[:, j].mean())
            else:
                grid = np.linspace(-1, 1, 41)
                thr[j] = grid[int(np.argmax([f1_score(Ytr[:, j], O >= t, zero_division=0) for t in grid]))]
    out = M >= thr
    if cfg.get("one", 1):
        none = ~out.any(axis=1)
        out[none, (M - thr)[none].argmax(axis=1)] = True
    return out


def stack_features(blocks, scheme, labels, sid, tr, te, s_tr, s_te, cfg, scope_of, cases):
    """Margins of the other head (``sid``) as extra columns: out-of-fold on training rows."""
    scfg = {**cfg, "learner": cfg.get("slearner", "svm"), "C": cfg.get("sC", 0.5)}
    X = blocks.matrix({"feat": "wc"})
    in_scope = scope_of(tr)
    codes = scheme.code_list
    if scheme.multi:
        Y = np.array([[c in scheme.parse(v) for c in codes] for v in labels[sid].iloc[tr]])
        targets = [np.where(Y[:, j], "1", "0") for j in range(len(codes))]
    else:
        targets = [labels[sid].iloc[tr].to_numpy()]
    Ztr_cols, Zte_cols = [], []
    g = [c if c else f"row:{i}" for i, c in zip(tr, cases[tr])]
    for y in targets:
        Ztr = np.zeros((len(tr), len(np.unique(y[in_scope]))))
        for a, b in GroupKFold(n_splits=3).split(tr, groups=g):
            a = a[in_scope[a]]
            est = estimator(scfg).fit(X[tr[a]], y[a])
            Ztr[b] = est.margins(X[tr[b]])[:, : Ztr.shape[1]]
        est = estimator(scfg).fit(X[tr[in_scope]], y[in_scope])
        Zte = est.margins(X[te])
        if scheme.multi:
            Ztr, Zte = Ztr[:, 1:], Zte[:, 1:]
        Ztr_cols.append(Ztr)
        Zte_cols.append(Zte)
    w = float(cfg.get("sw", 0.3))
    Ztr = np.hstack(Ztr_cols)[s_tr] * w
    Zte = np.hstack(Zte_cols)[s_te] * w
    return sp.csr_matrix(Ztr), sp.csr_matrix(Zte)


def splits(df: pd.DataFrame, which: str, folds: int = 3) -> list[tuple[str, str, np.ndarray]]:
    """(family, name, held-out mask) for the protocol's splits."""
    out = []
    if "cw" in which:
        rounds = df["round"].value_counts()
        later = sorted(r for r in rounds.index if r and rounds[r] >= 500)[-1]
        out.append(("cw", "cw", (df["round"] == later).to_numpy()))
    if "g" in which.split(","):
        groups = [c if c else f"row:{i}" for i, c in enumerate(df["case"].fillna("").astype(str))]
        for k, (_, test) in enumerate(GroupKFold(n_splits=folds).split(df, groups=groups)):
            m = np.zeros(len(df), bool)
            m[test] = True
            out.append(("g", f"g{k}", m))
    if "v" in which.split(","):
        for voice, n in df["voice"].value_counts().items():
            if n >= 80 and voice:
                out.append(("v", f"v:{voice}", (df["voice"] == voice).to_numpy()))
    return out


def scope(tax, sid: str, labels: pd.DataFrame) -> np.ndarray:
    scheme = tax[sid]
    has = labels[sid].str.strip() != ""
    if scheme.applies_to == "all":
        return has.to_numpy()
    q = labels[QUALITY] == scheme.applies_to
    return (q if scheme.multi else (q & has)).to_numpy()


def score_single(gold, got) -> dict:
    present = sorted(set(gold) | set(got))
    p, r, f, s = precision_recall_fscore_support(gold, got, labels=present, zero_division=0)
    return {"n": len(gold), "acc": round(float(accuracy_score(gold, got)), 4),
            "macro_f1": round(float(f1_score(gold, got, labels=present, average="macro", zero_division=0)), 4),
            "per_class": {c: {"p": round(float(p[j]), 3), "r": round(float(r[j]), 3), "n": int(s[j])}
                          for j, c in enumerate(present)}}


def score_multi(codes, gold: np.ndarray, got: np.ndarray) -> dict:
    p, r, f, s = precision_recall_fscore_support(gold, got, zero_division=0)
    return {"n": len(gold), "acc": round(float((gold == got).all(axis=1).mean()), 4),
            "macro_f1": round(float(f1_score(gold, got, average="macro", zero_division=0)), 4),
            "micro_f1": round(float(f1_score(gold, got, average="micro", zero_division=0)), 4),
            "per_class": {c: {"p": round(float(p[j]), 3), "r": round(float(r[j]), 3), "n": int(s[j])}
                          for j, c in enumerate(codes)}}


def save(preds: dict, results: dict, tax, out: Path) -> None:
    for (sid, cname, family), (gold, got) in preds.items():
        scheme = tax[sid]
        if scheme.multi:
            sc = score_multi(scheme.code_list, np.vstack(gold), np.vstack(got))
        else:
            sc = score_single(np.concatenate(gold), np.concatenate(got))
        results.setdefault(sid, {}).setdefault(cname, {})[family] = sc
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--heads", default=",".join(HEADS))
    ap.add_argument("--configs", default="svm")
    ap.add_argument("--splits", default="cw,g,v")
    ap.add_argument("--out", default=str(ROOT / "bench" / "out" / "learners.json"))
    args = ap.parse_args()
    tax = load_taxonomy()
    df = read_corpus().reset_index(drop=True)
    labels = df[[c for c in HEADS if c in df.columns]].fillna("").astype(str)
    tok = Tokenizer("auto")
    t0 = time.time()
    texts = [drop_placeholders(normalize(str(t))) for t in df["text"]]
    words = [tok.words(t) for t in texts]
    print(f"segmented {len(texts)} texts in {time.time() - t0:.1f}s", flush=True)
    configs = {name: parse_config(name) for name in args.configs.split(",")}
    out = Path(args.out)
    results = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    preds: dict = {}
    cases = df["case"].fillna("").astype(str).to_numpy()
    for family, name, held in splits(df, args.splits):
        t1 = time.time()
        blocks = FeatureBlocks(words, texts, ~held, families={c.get("chars", "1-3") for c in configs.values()})
        tr, te = np.flatnonzero(~held), np.flatnonzero(held)
        for sid in args.heads.split(","):
            scheme = tax[sid]
            s_tr, s_te = scope(tax, sid, labels.iloc[tr]), scope(tax, sid, labels.iloc[te])
            for cname, cfg in configs.items():
                Xtr, Xte = blocks.pair(cfg, tr[s_tr], te[s_te])
                if cfg.get("stack") and sid in ("作为类型", "维度"):
                    other = "维度" if sid == "作为类型" else "作为类型"
                    Ztr, Zte = stack_features(blocks, tax[other], labels, other, tr, te, s_tr, s_te, cfg,
                                                lambda m: scope(tax, other, labels.iloc[m]), cases)
                    Xtr, Xte = sp.hstack([Xtr, Ztr]).tocsr(), sp.hstack([Xte, Zte]).tocsr()
                key = (sid, cname, family)
                if scheme.multi:
                    codes = scheme.code_list
                    Ytr = np.array([[c in scheme.parse(v) for c in codes] for v in labels[sid].iloc[tr[s_tr]]])
                    Yte = np.array([[c in scheme.parse(v) for c in codes] for v in labels[sid].iloc[te[s_te]]])
                    got = fit_predict_multi(cfg, Xtr, Ytr, Xte, groups=df["case"].iloc[tr[s_tr]].tolist())
                    preds.setdefault(key, ([], []))
                    preds[key][0].append(Yte)
                    preds[key][1].append(got)
                else:
                    ytr = labels[sid].iloc[tr[s_tr]].to_numpy()
                    yte = labels[sid].iloc[te[s_te]].to_numpy()
                    got = fit_predict_single(cfg, Xtr, ytr, Xte, groups=df["case"].iloc[tr[s_tr]].tolist())
                    preds.setdefault(key, ([], []))
                    preds[key][0].append(yte)
                    preds[key][1].append(got)
        print(f"{name}: {time.time() - t1:.1f}s", flush=True)
        save(preds, results, tax, out)  # after every split: partial figures can be read while it runs
    save(preds, results, tax, out)
    print_table(results, tax, args.heads.split(","), configs)


def print_table(results: dict, tax, heads: list[str], configs, width: int = 28) -> None:
    """Per head, one line a setting: macro-F1 / accuracy (/ micro-F1) of each split family."""
    for sid in heads:
        print(f"\n{sid}  (macro-F1 / acc{' / micro' if tax[sid].multi else ''})")
        for cname in configs:
            r = results[sid][cname]
            cells = []
            for fam in ("cw", "g", "v"):
                if fam in r:
                    x = r[fam]
                    micro = f"/{x['micro_f1']:.3f}" if "micro_f1" in x else ""
                    cells.append(f"{fam} {x['macro_f1']:.3f}/{x['acc']:.3f}{micro}")
            print(f"  {cname:{width}s} " + "  ".join(cells))


if __name__ == "__main__":
    main()
