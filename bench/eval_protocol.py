"""Evaluation protocol (first part): cross-writer and leave-voice-out figures per head, and the
fragment probes, for one or more learner settings. Not a test: run `make eval`.

    cross-writer     train on the v1 rows (ids C00001-C03423), predict the v2 rows written later
                     by other writers to be harder;
    leave-voice-out  train on every voice but one, predict that voice (来信, 热线, 网络留言, ...);
    fragments        texts that are not clues: share refused (低质 with 质量分 < 20).

Figures: accuracy and macro-F1 per head (维度: micro-F1). Output: bench/out/protocol.json and a
Markdown table on stdout.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from nlp.corpus import read_corpus  # noqa: E402
from nlp.model import ClueClassifier  # noqa: E402
from nlp.pipeline import Annotator  # noqa: E402
from nlp.report import evaluate  # noqa: E402
from nlp.taxonomy import load_taxonomy  # noqa: E402
from nlp.training import label_columns, row_groups  # noqa: E402

SETTINGS = {
    "svm C=0.5 (v1 default)": dict(learner="svm", C=0.5, max_char_features=120_000),
    "logreg C=10": dict(learner="logreg", C=10.0, max_char_features=None),
    "logreg C=3": dict(learner="logreg", C=3.0, max_char_features=None),
}
FRAGMENTS = ["某区", "2023年", "某县住建局", "县里", "无", "12345", "同上", "测试", "详见附件", "。。。",
             "反映内容：", "青石镇柳河村", "2024年3月5日", "城南派出所", "13800138000", "？？", "某某",
             "安平县", "见上", "某局不作为", "关于问题的反映", "此件", "附件", "请查收", "投诉", "举报", "你好",
             "在吗", "张某某", "——"]


def fit(df: pd.DataFrame, cols: list[str], seed: int, **kw) -> ClueClassifier:
    model = ClueClassifier(random_state=seed, **kw)
    voices = df["voice"].fillna("").astype(str).tolist()
    return model.fit(df["text"].tolist(), df[cols], groups=row_groups(df), shift=voices)


def scores(model, df: pd.DataFrame, cols: list[str]) -> dict:
    ev = evaluate(model, df["text"].tolist(), df[cols])
    out = {}
    for sid, h in ev["heads"].items():
        out[sid] = {"acc": round(h.get("accuracy", h.get("subset_accuracy")), 3), "macro_f1": round(h["macro_f1"], 3)}
        if "micro_f1" in h:
            out[sid]["micro_f1"] = round(h["micro_f1"], 3)
    return out


def fragments(model) -> float:
    out = Annotator(model).annotate_texts(FRAGMENTS)
    refused = (out["质量"] == "低质") & (out["质量分"].astype(int) < 20)
    return round(float(refused.mean()), 3)


def main() -> None:
    seed = 20261122
    df = read_corpus()
    cols = label_columns(load_taxonomy(), df)
    num = df["id"].str[1:].astype(int)
    v1, v2 = df[num <= 3423], df[num > 3423]
    results = {}
    for name, kw in SETTINGS.items():
        t0 = time.time()
        m = fit(v1, cols, seed, **kw)
        r = {"cross_writer": scores(m, v2, cols), "fragments_refused": fragments(m)}
        lvo = {}
        for voice in (("来信", "热线", "网络留言", "巡察", "通报") if "--voices" in sys.argv else ()):
            held = df["voice"] == voice
            if held.sum() < 50:
                continue
            lvo[voice] = scores(fit(df[~held], cols, seed, **kw), df[held], cols)
        r["leave_voice_out"] = lvo
        r["seconds"] = round(time.time() - t0, 1)
        results[name] = r
        print(name, json.dumps(r, ensure_ascii=False), flush=True)
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "protocol.json").write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")
    heads = ["质量", "低质原因", "维度", "作为类型", "东丽类别", "盐山类别"]
    print("\n| 设置 | 评估 | " + " | ".join(heads) + " | 碎片拒收 |")
    print("|---|---|" + "---|" * (len(heads) + 1))
    for name, r in results.items():
        cw = r["cross_writer"]
        print(f"| {name} | 跨写作者 | " + " | ".join(f"{cw[h]['macro_f1']:.3f}" for h in heads if h in cw)
              + f" | {r['fragments_refused']:.0%} |")
        lv = r["leave_voice_out"]
        if not lv:
            continue
        avg = {h: sum(v[h]["macro_f1"] for v in lv.values() if h in v) / max(1, len(lv)) for h in heads}
        print(f"| {name} | 口吻留一（平均） | " + " | ".join(f"{avg[h]:.3f}" for h in heads) + " | |")


if __name__ == "__main__":
    main()
