"""Element extraction: the trained tagger vs the regex extractor, on annotated rows held out by
case note (GroupKFold), the junk/fragment probe (``bench/element_probe.tsv``) and the tagger's
cost per clue.

    python bench/eval_elements.py [--folds 5] [--rows train|all] [--annotations corpora/elements.jsonl]

``--rows train`` (default) cross-validates on the train/dev rows only: the test split stays unseen
by every choice made with this script (it is reported by ``train.py``).

Writes bench/out/elements.json and prints the Chinese table used in the README.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nlp.elements import ElementExtractor  # noqa: E402
from nlp.elements.corpus import read_annotations  # noqa: E402
from nlp.elements.evaluate import compare, markdown  # noqa: E402
from nlp.elements.fitting import fit_extractor  # noqa: E402
from nlp.normalize import normalize  # noqa: E402
from nlp.registry import Registry  # noqa: E402


def pooled(results: list[dict]) -> dict:
    """Row-weighted mean of the fold figures."""
    n = np.array([r["rows"] for r in results], dtype=float)
    out = {"rows": int(n.sum())}
    for who in ("tagger", "regex"):
        out[who] = {el: {k: float(np.dot(n, [r[who][el][k] for r in results]) / n.sum())
                         for k in results[0][who][el]} for el in results[0][who]}
    return out


def speed(extractor: ElementExtractor, n: int = 4000) -> float:
    """Process CPU microseconds per clue for the elements of corpus-like clues in chunks of 1,000
    (the classifier's feature rows given, as in the pipeline)."""
    texts = pd.read_csv(ROOT / "corpora" / "clues.csv", dtype=str, keep_default_na=False)["text"].tolist()
    rng = random.Random(0)
    batch = [normalize(rng.choice(texts) + (rng.choice(texts) if rng.random() < 0.3 else "")) for _ in range(n)]
    X = [extractor.features.transform(batch[i:i + 1000], normalized=True) for i in range(0, n, 1000)]
    extractor.extract_many(batch[:1000], X[0])
    started = time.process_time()
    for i in range(0, n, 1000):
        extractor.extract_many(batch[i:i + 1000], X[i // 1000])
    return (time.process_time() - started) / n * 1e6


def probe(extractor: ElementExtractor) -> list[str]:
    """The probe lines whose forbidden piece the extractor produces (element“piece”)."""
    cases = [line.split("\t") for line in (ROOT / "bench" / "element_probe.tsv").read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.startswith("#")]
    found = extractor.found_many([normalize(text) for text, _, _ in cases])
    return [f"{el}“{piece}”" for (_, el, piece), f in zip(cases, found) if piece in f[el]]


def main() -> None:
    from sklearn.model_selection import GroupKFold

    ap = argparse.ArgumentParser()
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--rows", choices=("train", "all"), default="train",
                    help="train: the train/dev rows only (the test split stays unseen); all: every row")
    ap.add_argument("--annotations", default=str(ROOT / "corpora" / "elements.jsonl"))
    args = ap.parse_args()
    path = Path(args.annotations)
    corpus_path = path.parent / "clues.csv"
    corpus = pd.read_csv(corpus_path, dtype=str, keep_default_na=False) if corpus_path.exists() else None
    ann = read_annotations([path], corpus)
    if args.rows == "train":
        ann = ann[ann["split"] != "test"].reset_index(drop=True)
    # the presence model reads the classifier's feature rows: those of the current model (TF-IDF,
    # fitted without labels; the held-out rows' element annotations are never seen)
    model = Registry().load()
    results, started = [], time.time()
    for train, held in GroupKFold(args.folds).split(ann, groups=ann["group"]):
        tr = ann.iloc[train]
        tagger, presence = fit_extractor(tr["text"].tolist(), tr["spans"].tolist(), tr["group"].tolist(),
                                         lambda texts: model.transform(texts, normalized=True), model.tokenizer_)
        results.append(compare(tagger, presence, model, ann.iloc[held]))
    result = pooled(results)
    last = ElementExtractor(model.tokenizer_, tagger=tagger, presence=presence, features=model)
    result.update({"folds": args.folds, "rows_used": args.rows, "annotated_rows": len(ann),
                   "seconds": round(time.time() - started, 1), "probe_produced": probe(last),
                   "tagger_cpu_us_per_clue": round(speed(last), 1)})
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "elements.json").write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    which = "train/dev 部分的" if args.rows == "train" else ""
    note = (f"{which}{len(ann)} 行要素标注，按案例分组 {args.folds} 折交叉验证（每行由没见过它所在案例的标注器预测）；"
            "“规则”为旧的正则提取。")
    print("\n".join(markdown(result, note)))
    print(f"\n碎片探针：{len(result['probe_produced'])} 处不该有的片段" +
          (f"（{'、'.join(result['probe_produced'])}）" if result["probe_produced"] else ""))
    print(f"\n标注器每条线索 CPU 用时 {result['tagger_cpu_us_per_clue']} 微秒（1,000 条一批）。")


if __name__ == "__main__":
    main()
