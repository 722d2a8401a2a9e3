"""Compare learner settings under the evaluation protocol (nlp/protocol.py). Not a test: `make eval`.

    python bench/eval_protocol.py                       # the default and the previous default, every part
    python bench/eval_protocol.py --settings svm,lr10   # some settings
    python bench/eval_protocol.py --parts cross_writer,names,fragments

Cross-writer: the rows of the latest writing round (the corpus ``round`` column, v3 once it has at
least 500 rows) are predicted by a model trained on the earlier rounds.
Output: bench/out/protocol.json (all figures) and a Markdown table of macro-F1 on stdout.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nlp.corpus import read_corpus  # noqa: E402
from nlp.protocol import Protocol  # noqa: E402
from nlp.taxonomy import load_taxonomy  # noqa: E402
from nlp.training import label_columns  # noqa: E402

SETTINGS = {
    "default": dict(),  # ClueClassifier's defaults: svm, raw margins, no cue counts, placeholders dropped
    "svm-raw-nocue-C0.3": dict(learner="svm", C=0.3, max_char_features=None, placeholders="drop",
                               decision="raw", cues=False),
    "svm-raw-nocue-C1": dict(learner="svm", C=1.0, max_char_features=None, placeholders="drop",
                             decision="raw", cues=False),
    "svm-raw-nocue-keep": dict(learner="svm", C=0.5, max_char_features=None, decision="raw", cues=False,
                               placeholders="keep"),
    "svm-raw": dict(learner="svm", C=0.5, max_char_features=None, placeholders="drop", decision="raw",
                    cues=True),
    "svm-raw-nocue": dict(learner="svm", C=0.5, max_char_features=None, placeholders="drop", decision="raw",
                          cues=False),
    "svm-raw-off": dict(learner="svm", C=0.5, max_char_features=None, placeholders="drop", decision="raw",
                        cues=True, tune_offsets=True),
    "svm": dict(learner="svm", C=0.5, max_char_features=120_000, cues=True, placeholders="keep",
                decision="calibrated"),  # the shipped model before v3
    "svm-drop": dict(learner="svm", C=0.5, max_char_features=120_000, cues=True, placeholders="drop",
                     decision="calibrated"),
    "lr10": dict(learner="logreg", C=10.0, max_char_features=None, cues=False, placeholders="keep",
                 decision="calibrated"),  # the plain baseline (slow: lbfgs on every head)
}
PARTS = ("cross_writer", "names", "fragments", "group_folds", "voice_out")
HEADS = ["质量", "低质原因", "维度", "作为类型", "东丽类别", "盐山类别"]


def later_round(df):
    """The latest writing round with at least 500 rows (the ``round`` column: v1, v2, v3 …)."""
    rounds = df["round"].value_counts()
    later = sorted(r for r in rounds.index if r and rounds[r] >= 500)
    return df["round"] == later[-1]


def table(results: dict) -> str:
    lines = ["| 设置 | 评估 | " + " | ".join(HEADS) + " | 改名翻转（最大） | 碎片拒收 |",
             "|---|---|" + "---|" * (len(HEADS) + 2)]
    for name, r in results.items():
        rows = []
        if "cross_writer" in r:
            rows.append(("跨写作者", r["cross_writer"]))
        if "group_folds" in r:
            rows.append(("按笔记分组交叉验证", r["group_folds"]["heads"]))
        if r.get("voice_out"):
            lv = r["voice_out"]
            rows.append(("口吻留一（平均）", {h: {"macro_f1": sum(v[h]["macro_f1"] for v in lv.values() if h in v)
                                                      / max(1, sum(h in v for v in lv.values()))} for h in HEADS}))
        for k, (what, sc) in enumerate(rows):
            flips = frag = ""
            if k == 0 and "names" in r:
                flips = f"{max(r['names']['label_flips'].values()):.1%}"
            if k == 0 and "fragments" in r:
                frag = f"{r['fragments']['refused']}/{r['fragments']['of']}"
            cells = " | ".join(f"{sc[h]['macro_f1']:.3f}" if h in sc else "" for h in HEADS)
            lines.append(f"| {name} | {what} | {cells} | {flips} | {frag} |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--settings", default="default,svm")
    ap.add_argument("--parts", default=",".join(PARTS))
    ap.add_argument("--out", default=str(ROOT / "bench" / "out" / "protocol.json"))
    args = ap.parse_args()
    df = read_corpus()
    cols = label_columns(load_taxonomy(), df)
    protocol = Protocol(df, cols, later_round=later_round(df))
    parts = tuple(p for p in args.parts.split(",") if p)
    out = Path(args.out)
    results = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    for name in args.settings.split(","):
        r = protocol.run(SETTINGS[name], parts)
        results[name] = {**results.get(name, {}), **r}
        print(name, json.dumps({k: v for k, v in r.items() if k != "voice_out"}, ensure_ascii=False)[:600],
              flush=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    print(table({k: results[k] for k in args.settings.split(",")}))


if __name__ == "__main__":
    main()
