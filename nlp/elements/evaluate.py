"""Element extraction measured against annotations: per element, presence accuracy, the F1 of
the "missing" flag (what the officer would be told to ask for), and span F1 (exact and overlap).

``compare`` scores the trained tagger (after the post-processing rules) and the regex extractor
on the same held-out rows; ``markdown`` renders the table for report.md and the README.
"""

from __future__ import annotations

import pandas as pd

from nlp.elements import ElementExtractor
from nlp.elements.patterns import ELEMENTS, RegexExtractor
from nlp.elements.rules import Rules

Span = tuple[str, int, int]


def _f1(tp: int, fp: int, fn: int) -> float:
    return 1.0 if tp + fp + fn == 0 else 2 * tp / (2 * tp + fp + fn)


def _matches(a: list[Span], b: list[Span], exact: bool) -> int:
    """Spans of ``a`` that have a partner in ``b`` (same label; same bounds, or overlapping)."""
    return sum(any(x[0] == y[0] and ((x[1], x[2]) == (y[1], y[2]) if exact else x[1] < y[2] and y[1] < x[2])
                   for y in b) for x in a)


def score(gold: list[list[Span]], pred: list[list[Span]]) -> dict:
    """Figures per element and their means."""
    out: dict = {}
    for name in ELEMENTS:
        g = [[s for s in spans if s[0] == name] for spans in gold]
        p = [[s for s in spans if s[0] == name] for spans in pred]
        has_g = [bool(x) for x in g]
        has_p = [bool(x) for x in p]
        tp = sum(not a and not b for a, b in zip(has_g, has_p))  # positive class: the element is missing
        fp = sum(a and not b for a, b in zip(has_g, has_p))
        fn = sum(not a and b for a, b in zip(has_g, has_p))
        row = {"n": len(g), "gold_present": sum(has_g),
               "presence_accuracy": sum(a == b for a, b in zip(has_g, has_p)) / max(len(g), 1),
               "missing_f1": _f1(tp, fp, fn)}
        n_g, n_p = sum(map(len, g)), sum(map(len, p))
        for kind in ("exact", "overlap"):
            hit_p = sum(_matches(pp, gg, kind == "exact") for pp, gg in zip(p, g))
            hit_g = sum(_matches(gg, pp, kind == "exact") for pp, gg in zip(p, g))
            prec = hit_p / n_p if n_p else 1.0
            rec = hit_g / n_g if n_g else 1.0
            row[f"span_f1_{kind}"] = 0.0 if prec + rec == 0 else 2 * prec * rec / (prec + rec)
        out[name] = row
    for key in ("presence_accuracy", "missing_f1", "span_f1_exact", "span_f1_overlap"):
        out.setdefault("mean", {})[key] = sum(out[n][key] for n in ELEMENTS) / len(ELEMENTS)
    return out


def regex_spans(text: str, found: dict[str, str]) -> list[Span]:
    """The regex extractor's pieces located in the text."""
    spans = []
    for name, piece in found.items():
        start = text.find(piece) if piece else -1
        if start >= 0:
            spans.append((name, start, start + len(piece)))
    return spans


def compare(tagger, presence, model, rows: pd.DataFrame) -> dict:
    """Tagger (with the presence model) vs regex extractor on annotated rows (normalised texts
    with gold spans; gold 地点 completed by the same fallback rule as the output)."""
    texts = rows["text"].tolist()
    rules = Rules.load()
    gold = [rules.add_place(t, list(s)) for t, s in zip(texts, rows["spans"].tolist())]
    pred = ElementExtractor(model.tokenizer_, tagger=tagger, presence=presence, features=model).spans_many(texts)
    regex = RegexExtractor(model.tokenizer_)
    base = [regex_spans(t, regex.extract(t)) for t in texts]
    return {"rows": len(texts), "tagger": score(gold, pred), "regex": score(gold, base)}


def markdown(evaluation: dict, note: str = "") -> list[str]:
    """Chinese table: tagger vs regex per element."""
    if not evaluation or "tagger" not in evaluation:
        return []
    lines = ["", "## 要素提取", "",
             note or (f"在要素标注的 test 划分（按案例分组，共 {evaluation['rows']} 行）上计算；"
                      f"标注器用其余 {evaluation.get('train_rows', '?')} 行训练。“规则”为旧的正则提取。"), "",
             "| 要素 | 有无准确率（标注器/规则） | 缺失标记 F1（标注器/规则） | 片段 F1 精确（标注器/规则） | 片段 F1 重叠（标注器/规则） |",
             "|---|---|---|---|---|"]
    t, r = evaluation["tagger"], evaluation["regex"]
    for name in list(ELEMENTS) + ["mean"]:
        cells = [f"{t[name][k]:.3f} / {r[name][k]:.3f}"
                 for k in ("presence_accuracy", "missing_f1", "span_f1_exact", "span_f1_overlap")]
        lines.append(f"| {'平均' if name == 'mean' else name} | " + " | ".join(cells) + " |")
    return lines
