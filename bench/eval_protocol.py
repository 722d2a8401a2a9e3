"""Compare learner settings under the evaluation protocol (nlp/protocol.py). Not a test: `make eval`.

    python bench/eval_protocol.py                       # the default and the uniform svm setting, every part
    python bench/eval_protocol.py --settings lr10,lr10-off   # some settings
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
    # ClueClassifier's defaults: per-head learners, offsets and stacking from nlp/data/heads.toml
    "default": dict(),
    # every head the previous default's way (LinearSVC C=0.5, raw margins, no offsets); the exact previous
    # code's figures are in bench/out/protocol_old.json (run from the commit before heads.toml)
    "name-copies": dict(name_copies=True),
    # the default without the encoder table (heads with "+embed" in heads.toml use their TF-IDF family)
    "no-embed": dict(embed=False),
    "svm-uniform": dict(learner="svm", C=0.5, tune_offsets=False),
    "svm-uniform-off": dict(learner="svm", C=0.5, tune_offsets=True),
    "lr10": dict(learner="lr", C=10.0, tune_offsets=False),  # the plain baseline (liblinear, one-vs-rest)
    "lr10-off": dict(learner="lr", C=10.0, tune_offsets=True),
    "svm-raw-nocue-C1": dict(learner="svm", C=1.0, tune_offsets=False),
    "svm-calibrated-cues": dict(learner="svm", C=0.5, max_char_features=120_000, cues=True, placeholders="keep",
                                decision="calibrated", tune_offsets=False),  # the shipped model before v3
}
RARE = {"维度": ["庸", "散", "软"], "作为类型": ["慢作为", "不作为"], "东丽类别": ["D03", "D04"],
        "盐山类别": ["Y0", "Y3", "Y6"]}
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


def per_class_table(results: dict) -> str:
    """Precision / recall of the codes that were sinks or out of reach, cross-writer."""
    lines = ["| 设置 | " + " | ".join(f"{h} {c}" for h, cs in RARE.items() for c in cs) + " |",
             "|---|" + "---|" * sum(map(len, RARE.values()))]
    for name, r in results.items():
        cw = r.get("cross_writer")
        if not cw:
            continue
        cells = []
        for h, cs in RARE.items():
            for c in cs:
                x = cw.get(h, {}).get("per_class", {}).get(c)
                cells.append(f"P {x['p']:.2f} / R {x['r']:.2f}" if x else "")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def names_table(results: dict) -> str:
    """The names part as the issue states its target (naming moves no head by more than 3 points):
    macro-F1 (维度 also micro-F1) on the held-out rows as written and with names swapped."""
    lines = ["| 设置 | 行 | " + " | ".join(HEADS) + " |", "|---|---|" + "---|" * len(HEADS)]
    for name, r in results.items():
        nm = r.get("names")
        if not nm or "score_delta" not in nm:
            continue
        for what, key in (("全部留出行", "score_delta"), (f"改名的 {nm['rows_swapped']} 行", "score_delta_swapped_rows")):
            cells = []
            for h in HEADS:
                d = nm[key].get(h)
                if d is None:
                    cells.append("")
                    continue
                cell = f"{d['macro_f1']:+.1f}"
                if "micro_f1" in d:
                    cell += f"（micro {d['micro_f1']:+.1f}）"
                cells.append(cell)
            lines.append(f"| {name} | {what} | " + " | ".join(cells) + " |")
        w, s = nm["as_written"]["heads"], nm["swapped"]["heads"]
        lines.append(f"| {name} | 原文 → 改名 macro-F1 | " + " | ".join(
            f"{w[h]['macro_f1']:.3f} → {s[h]['macro_f1']:.3f}" if h in w and h in s else "" for h in HEADS) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--settings", default="default,svm-uniform")
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
        # "heads=<file>": the default learners with another heads.toml (per-head settings to compare)
        kw = dict(heads_path=name.partition("=")[2]) if name.startswith("heads=") else SETTINGS[name]
        r = protocol.run(kw, parts)
        results[name] = {**results.get(name, {}), **r}
        print(name, json.dumps({k: v for k, v in r.items() if k != "voice_out"}, ensure_ascii=False)[:600],
              flush=True)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    print(table({k: results[k] for k in args.settings.split(",")}))
    print(per_class_table({k: results[k] for k in args.settings.split(",")}))
    print(names_table({k: results[k] for k in args.settings.split(",")}))


if __name__ == "__main__":
    main()
