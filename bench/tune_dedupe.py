"""Fit the 重复件 verification on the tune part of corpora/duplicates.csv; report the test part.

    python bench/tune_dedupe.py          # fit, print the [verify] table for nlp/data/dedupe.toml,
                                         # precision/recall on the held-out test pairs
    python bench/tune_dedupe.py --write  # ... and write them into nlp/data/dedupe.toml
    python bench/tune_dedupe.py --df     # rebuild nlp/data/dedupe_df.tsv from corpora/clues.csv

Test pairs are never used for fitting. "pairwise" scores the verification alone; "in a batch"
runs the whole method (candidate search + verification) on all pair texts plus the corpus
(4,000+ other clues as distractors) and asks whether each test pair was matched.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nlp.dedupe.fingerprint import canonical  # noqa: E402


def build_df(out: Path) -> None:
    from nlp.segment import Tokenizer

    tok = Tokenizer()
    texts = pd.read_csv(ROOT / "corpora" / "clues.csv", dtype=str)["text"].fillna("").tolist()
    counts: collections.Counter = collections.Counter()
    for t in texts:
        c = canonical(t)
        counts.update({"w:" + w for w in tok.words(c) if len(w) > 1 or w.isdigit()})
        counts.update({"c:" + c[i:i + 2] for i in range(len(c) - 1)})
    lines = [f"#docs\t{len(texts)}"] + [f"{t}\t{n}" for t, n in sorted(counts.items()) if n >= 2]
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{out}: {len(lines) - 1} terms over {len(texts)} texts")


def metrics(pred, y) -> dict:
    pred, y = np.asarray(pred, bool), np.asarray(y, bool)
    tp = int((pred & y).sum())
    p = tp / max(int(pred.sum()), 1)
    r = tp / max(int(y.sum()), 1)
    return {"precision": round(p, 3), "recall": round(r, 3), "pairs": int(len(y)), "positives": int(y.sum())}


def by_kind(pairs: pd.DataFrame, pred) -> dict:
    """Recall of each positive kind and false matches of each negative kind."""
    out = {}
    for kind, idx in pairs.groupby("kind").groups.items():
        rows = pairs.index.get_indexer(idx)
        same = bool(pairs["same"].iloc[rows[0]])
        out[kind] = f"{int(pred[rows].sum())}/{len(rows)}" + (" found" if same else " wrongly matched")
    return out


def pick_threshold(scores, y, min_precision: float) -> float:
    """The lowest threshold whose precision on these pairs is at least ``min_precision``."""
    best = 0.99
    for t in np.arange(0.99, 0.05, -0.01):
        pred = scores >= t
        if pred.sum() and (pred & y).sum() / pred.sum() >= min_precision:
            best = t
    return round(float(best), 2)


def write_toml(ver) -> None:
    import re

    path = ROOT / "nlp" / "data" / "dedupe.toml"
    text = path.read_text(encoding="utf-8")
    values = {"coef": "[" + ", ".join(f"{c:.4f}" for c in ver.coef) + "]", "intercept": f"{ver.intercept:.4f}",
              "threshold": f"{ver.threshold}"}
    for key, value in values.items():
        text = re.sub(rf"(?m)^{key} = .*$", f"{key} = {value}", text, count=1)
    path.write_text(text, encoding="utf-8")
    print(f"written: {path}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--df", action="store_true", help="rebuild the document-frequency file")
    ap.add_argument("--min-precision", type=float, default=0.99, help="precision the tune pairs must reach")
    ap.add_argument("--write", action="store_true", help="write the fitted values into nlp/data/dedupe.toml")
    args = ap.parse_args()
    if args.df:
        return build_df(ROOT / "nlp" / "data" / "dedupe_df.tsv")
    from nlp.dedupe.matcher import Matcher, groups

    pairs = pd.read_csv(ROOT / "corpora" / "duplicates.csv", dtype={"a": str, "b": str})
    matcher = Matcher.default()
    ver = matcher.verifier
    texts = list(dict.fromkeys(pairs["a"].tolist() + pairs["b"].tolist()))
    docs = dict(zip(texts, matcher.prepare(texts)[1]))
    tune, test = pairs[pairs["split"] == "tune"], pairs[pairs["split"] == "test"]
    ver.fit([docs[t] for t in tune["a"]], [docs[t] for t in tune["b"]], tune["same"])
    s_tune = np.array([ver.similarity(docs[a], docs[b]) for a, b in zip(tune["a"], tune["b"])])
    ver.threshold = pick_threshold(s_tune, tune["same"].to_numpy().astype(bool), args.min_precision)
    s_test = np.array([ver.similarity(docs[a], docs[b]) for a, b in zip(test["a"], test["b"])])
    report = {"verify": {"coef": [round(c, 3) for c in ver.coef], "intercept": round(ver.intercept, 3),
                         "threshold": ver.threshold},
              "tune pairwise": metrics(s_tune >= ver.threshold, tune["same"]),
              "test pairwise": metrics(s_test >= ver.threshold, test["same"])}
    # the whole method in one batch: all pair texts plus the corpus as distractors
    extra = pd.read_csv(ROOT / "corpora" / "clues.csv", dtype=str)["text"].fillna("").tolist()
    pool = texts + [t for t in extra if t not in docs]
    found = matcher.match(pool)
    index = {t: i for i, t in enumerate(pool)}
    linked = set()
    for i, matches in found.items():
        linked.update((min(i, j), max(i, j)) for j, _ in matches)
    hit = [(min(index[a], index[b]), max(index[a], index[b])) in linked for a, b in zip(test["a"], test["b"])]
    report["test in a batch"] = metrics(hit, test["same"])
    group = groups(found, matcher.scores, ver.threshold)
    same_group = [group.get(index[a], -1) == group.get(index[b], -2) for a, b in zip(test["a"], test["b"])]
    report["test in a batch, same 重复组"] = metrics(same_group, test["same"])
    report["kinds missed (test)"] = collections.Counter(
        k for k, h, y in zip(test["kind"], hit, test["same"]) if y and not h).most_common(8)
    print(json.dumps(report, ensure_ascii=False, indent=1))
    print("\n[verify]\ncoef = [" + ", ".join(f"{c:.3f}" for c in ver.coef) + "]")
    if args.write:
        write_toml(ver)
    print("test pairs by kind:", json.dumps(by_kind(test, s_test >= ver.threshold), ensure_ascii=False))
    print(f"intercept = {ver.intercept:.3f}\nthreshold = {ver.threshold}")


if __name__ == "__main__":
    main()
