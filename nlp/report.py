"""Stage: reports. Held-out evaluation of every head, and the texts people read.

- ``evaluate``: per-head accuracy, macro-F1, per-class precision/recall and confusion matrix.
- ``render_markdown``: report.md beside each model version.
- ``intake_summary``: the readable Chinese summary of one clue for an intake officer.
- ``summary_table``: the closing counts per label after a batch run.
"""

from __future__ import annotations

import collections

import numpy as np
import pandas as pd
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

from nlp.taxonomy import GOOD, LOW, QUALITY, REASON, Taxonomy


def evaluate(model, texts: list[str], labels: pd.DataFrame) -> dict:
    """Every head on labeled rows. Heads for 合格 (or 低质) rows are scored on the gold rows of
    that quality, so each head's figure is about that head alone."""
    X = model.transform(texts)  # features once: probabilities and the decisions (margins) share them
    probs = model.predict_proba(texts, X=X)
    pred = model.predict(texts, X=X, probs=probs, gate=False)
    out = score_predictions(model.taxonomy_, pred, labels, probs)
    for sid, h in out["heads"].items():
        if model.taxonomy_[sid].multi:
            h["thresholds"] = model.thresholds_.get(sid, {})
    return out


def score_predictions(tax: Taxonomy, pred: pd.DataFrame, labels: pd.DataFrame,
                      probs: dict[str, np.ndarray] | None = None) -> dict:
    """Scores of predicted codes (ungated: every head predicted on every row) against gold labels."""
    labels = labels.reset_index(drop=True).fillna("").astype(str)
    pred = pred.reset_index(drop=True).fillna("").astype(str)
    out: dict = {"rows": len(labels), "heads": {}}
    quality = labels[QUALITY] if QUALITY in labels.columns else pd.Series([GOOD] * len(labels))
    for sid in [s for s in tax.ids if s in labels.columns and s in pred.columns]:
        scheme = tax[sid]
        has = labels[sid].str.strip() != ""
        if scheme.applies_to == "all":
            rows = has.to_numpy()
        else:
            rows = ((quality == scheme.applies_to) & (True if scheme.multi else has)).to_numpy()
        if not rows.any():
            continue
        codes = scheme.code_list
        if scheme.multi:
            gold = np.array([[c in scheme.parse(v) for c in codes] for v in labels.loc[rows, sid]], dtype=bool)
            got = np.array([[c in scheme.parse(v) for c in codes] for v in pred.loc[rows, sid]], dtype=bool)
            p, r, f, s = precision_recall_fscore_support(gold, got, zero_division=0)
            out["heads"][sid] = {
                "kind": "multi", "n": int(rows.sum()),
                "subset_accuracy": float((gold == got).all(axis=1).mean()),
                "micro_f1": float(f1_score(gold, got, average="micro", zero_division=0)),
                "macro_f1": float(f1_score(gold, got, average="macro", zero_division=0)),
                "per_class": {c: {"precision": float(p[j]), "recall": float(r[j]), "f1": float(f[j]),
                                  "support": int(s[j])} for j, c in enumerate(codes)},
            }
        else:
            gold = labels.loc[rows, sid].to_numpy()
            got = pred.loc[rows, sid].to_numpy()
            present = [c for c in codes if c in set(gold) | set(got)]
            p, r, f, s = precision_recall_fscore_support(gold, got, labels=present, zero_division=0)
            out["heads"][sid] = {
                "kind": "single", "n": int(rows.sum()),
                "accuracy": float(accuracy_score(gold, got)),
                "macro_f1": float(f1_score(gold, got, labels=present, average="macro", zero_division=0)),
                "per_class": {c: {"precision": float(p[j]), "recall": float(r[j]), "f1": float(f[j]),
                                  "support": int(s[j])} for j, c in enumerate(present)},
                "confusion": {"labels": present,
                              "matrix": confusion_matrix(gold, got, labels=present).tolist()},
            }
            if sid == QUALITY and GOOD in codes and probs is not None and sid in probs:
                out["heads"][sid]["calibration"] = calibration(probs[sid][rows][:, codes.index(GOOD)],
                                                               gold == GOOD)
    return out


def calibration(p: np.ndarray, y: np.ndarray, bins: int = 10) -> dict:
    """How well 质量分 (100 x P(合格)) matches the share of 合格 rows: Brier score, expected
    calibration error and a reliability table by score band."""
    p = np.asarray(p, dtype=float)
    y = np.asarray(y, dtype=float)
    edges = np.linspace(0, 1, bins + 1)
    band = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
    table, ece = [], 0.0
    for b in range(bins):
        m = band == b
        if m.any():
            ece += abs(p[m].mean() - y[m].mean()) * m.sum() / len(p)
            table.append({"score": f"{int(edges[b] * 100)}-{int(edges[b + 1] * 100)}", "n": int(m.sum()),
                          "mean_score": round(float(p[m].mean() * 100), 1),
                          "share_good": round(float(y[m].mean()), 3)})
    return {"brier": round(float(((p - y) ** 2).mean()), 4) if len(p) else None,
            "ece": round(float(ece), 4), "bands": table}


def headline(evaluation: dict) -> dict[str, float]:
    """One figure per head for comparisons: macro-F1."""
    return {sid: round(h["macro_f1"], 4) for sid, h in evaluation.get("heads", {}).items()}


def render_markdown(info: dict, evaluation: dict) -> str:
    lines = [f"# 模型评估报告 {info.get('version', '')}".rstrip(), "",
             "所有数字都在语料的 **test 划分**上计算（训练和阈值选择从未使用这些行）。", "",
             "| 项目 | 值 |", "|---|---|"]
    for k in ("corpus_hash", "taxonomy_version", "taxonomy_digest", "seed", "backend", "train_rows", "dev_rows",
              "test_rows"):
        if k in info:
            lines.append(f"| {k} | {info[k]} |")
    for k, v in info.get("libraries", {}).items():
        lines.append(f"| {k} | {v} |")
    lines += ["", "## 各头部总体指标", "", "| 头部 | 样本数 | 准确率 | macro-F1 | micro-F1 |", "|---|---|---|---|---|"]
    for sid, h in evaluation["heads"].items():
        acc = h.get("accuracy", h.get("subset_accuracy"))
        micro = f"{h['micro_f1']:.3f}" if "micro_f1" in h else "-"
        lines.append(f"| {sid} | {h['n']} | {acc:.3f} | {h['macro_f1']:.3f} | {micro} |")
    for sid, h in evaluation["heads"].items():
        lines += ["", f"## {sid}", "", "| 代码 | 精确率 | 召回率 | F1 | 支持数 |", "|---|---|---|---|---|"]
        for c, m in h["per_class"].items():
            lines.append(f"| {c} | {m['precision']:.3f} | {m['recall']:.3f} | {m['f1']:.3f} | {m['support']} |")
        if "confusion" in h:
            labs = h["confusion"]["labels"]
            lines += ["", "混淆矩阵（行：真实，列：预测）", "", "| | " + " | ".join(labs) + " |",
                      "|---" * (len(labs) + 1) + "|"]
            for lab, row in zip(labs, h["confusion"]["matrix"]):
                lines.append(f"| {lab} | " + " | ".join(str(x) for x in row) + " |")
        if h.get("calibration"):
            cal = h["calibration"]
            temp = info.get("quality_temperature")
            note = (f"质量分已按温度 T={temp} 放缓（T 在训练集上按口吻留一交叉验证拟合：用其余口吻训练、"
                    "预测留出的口吻，使模型对没见过的写法不过分自信）。") if temp and temp != 1.0 else ""
            lines += ["", f"质量分校准：Brier {cal['brier']}，ECE {cal['ece']}（越小越好）。{note}"
                          "各分数段的实际合格比例：", "",
                      "| 质量分段 | 行数 | 平均质量分 | 实际合格比例 |", "|---|---|---|---|"]
            for b in cal["bands"]:
                lines.append(f"| {b['score']} | {b['n']} | {b['mean_score']} | {b['share_good']:.3f} |")
        if h.get("thresholds"):
            lines.append("")
            lines.append("阈值（在 dev 划分上选定）：" + "，".join(f"{k}={v}" for k, v in h["thresholds"].items()))
    from nlp.elements.evaluate import markdown

    lines += markdown(evaluation.get("elements", {}))
    return "\n".join(lines) + "\n"


def intake_summary(row: dict, taxonomy: Taxonomy, elements: dict | None, questions: list[str],
                   code_confidence: dict | None = None) -> str:
    """Readable summary of one clue (a dict of one output row). ``code_confidence``: for
    multi-label schemes, each code's own probability ({scheme: {code: p}})."""
    q = row.get(QUALITY, "")
    lines = [f"线索质量：{q}（质量分 {row.get('质量分', '')}/100，置信度 {_pct(row.get('质量置信度'))}）"]
    if q == LOW:
        reason = str(row.get(REASON, "") or "")
        named = _code_with_name(reason, taxonomy[REASON].name_of(reason)) if reason and REASON in taxonomy.ids else reason
        lines.append(f"低质原因：{named}（置信度 {_pct(row.get('低质原因置信度'))}）")
    for sid in [s.id for s in taxonomy.schemes if s.id not in (QUALITY, REASON)]:
        v = row.get(sid, "")
        if v == "" or v is None:
            continue
        per_code = (code_confidence or {}).get(sid) if taxonomy[sid].multi else None
        if per_code:  # each code with its own confidence
            names = "、".join(f"{_code_with_name(c, taxonomy[sid].name_of(c))}（置信度 {_pct(per_code.get(c))}）"
                             for c in taxonomy[sid].parse(v))
            lines.append(f"{sid}：{names}")
            continue
        names = "、".join(_code_with_name(c, taxonomy[sid].name_of(c)) for c in taxonomy[sid].parse(v))
        lines.append(f"{sid}：{names}（置信度 {_pct(row.get(f'{sid}置信度'))}）")
    if elements is not None:
        have = "、".join(f"{k}“{v}”" for k, v in elements.items() if v) or "无"
        lines.append(f"已具备要素：{have}")
    if row.get("缺失要素") and not questions:
        lines.append("缺失要素（仅供参考，通报和文件没有反映人可补问）：" + row.get("缺失要素", ""))
    if questions:
        lines.append("缺失要素：" + row.get("缺失要素", ""))
        lines.append("建议向反映人补问：")
        lines += [f"  - {x}" for x in questions]
    if row.get("依据"):
        lines.append(f"依据：{row['依据']}")
    return "\n".join(lines)


def _code_with_name(code: str, name: str) -> str:
    """Each label once: "D06 群众意识淡漠……", but "不作为" (name = code) and "懒：工作效率" (name
    starts with the code) as they are."""
    if name.startswith(code + "："):
        return f"{code} {name[len(code) + 1:]}"
    return name if name.startswith(code) else f"{code} {name}"


def _pct(v) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "-"
    return "-" if f != f else f"{f:.0%}"


class Tally:
    """Counts per label over a batch run (for the closing summary), and per label and value of
    each ``by`` column (the cross-tabs of the 台账)."""

    def __init__(self, schemes: list[str], multi: set[str], by: tuple[str, ...] = ()):
        self.schemes = schemes
        self.multi = multi
        self.by = tuple(by)
        self.counts: dict[str, collections.Counter] = {s: collections.Counter() for s in schemes}
        self.cross: dict[tuple[str, str], collections.Counter] = {}
        self.rows = 0
        self.empty = 0

    def count(self, frame: pd.DataFrame) -> dict:
        """The counts of one output frame, to ``merge`` here or in another process."""
        counts, cross = {}, {}
        for s in self.schemes:
            if s not in frame.columns:
                continue
            col = frame[s].astype(str)
            keep = (col != "") & (col != "nan")
            col = col[keep]
            if s in self.multi:
                col = col.str.split("|").explode()
            counts[s] = col.value_counts().to_dict()
            for b in self.by:
                if b in frame.columns:
                    pairs = pd.DataFrame({"code": col, "by": frame.loc[col.index, b].astype(str).to_numpy()})
                    cross[(s, b)] = {(c, v): n for (c, v), n in pairs.value_counts().items()}
        empty = int((frame["依据"] == "文本为空").sum()) if "依据" in frame.columns else 0
        return {"rows": len(frame), "empty": empty, "labels": counts, "cross": cross}

    def merge(self, counts: dict) -> None:
        self.rows += counts["rows"]
        self.empty += counts["empty"]
        for s, c in counts["labels"].items():
            self.counts[s].update(c)
        for key, c in counts.get("cross", {}).items():
            self.cross.setdefault(key, collections.Counter()).update(c)

    def add(self, frame: pd.DataFrame) -> None:
        self.merge(self.count(frame))

    def _base(self, sid: str) -> tuple[int, str]:
        """What a label's share is of: 质量 of every row, 低质原因 of 低质 rows, the rest of 合格 rows."""
        if sid == QUALITY:
            return self.rows, "全部行"
        q = self.counts.get(QUALITY, collections.Counter())
        return (q[LOW], "低质行") if sid == REASON else (q[GOOD], "合格行")

    def rows_for_table(self, taxonomy: Taxonomy | None = None) -> list[list]:
        """The 汇总 sheet: label, code, name, count and share (of the rows the label applies to)."""
        out = [["标签", "代码", "名称", "条数", "占比", "占比基数"]]
        for s in self.schemes:
            base, what = self._base(s)
            for code, n in sorted(self.counts[s].items(), key=lambda kv: -kv[1]):
                name = _name(taxonomy, s, code)
                out.append([s, code, name, n, n / base if base else None, what])
        return out

    def cross_tables(self, taxonomy: Taxonomy | None = None, top: int = 50) -> dict[str, list[list]]:
        """One sheet per ``by`` column: every label's codes against the column's values (the
        ``top`` most frequent; the rest summed as 其他)."""
        sheets = {}
        for b in self.by:
            totals: collections.Counter = collections.Counter()
            for s in self.schemes:
                for (code, v), n in self.cross.get((s, b), {}).items():
                    if s == QUALITY:
                        totals[v] += n
            values = [v for v, _ in totals.most_common(top)]
            rest = len(totals) > top
            rows = [["标签", "代码", "名称"] + [v if v else "（空白）" for v in values] + (["其他"] if rest else [])
                    + ["合计"]]
            for s in self.schemes:
                c = self.cross.get((s, b), {})
                for code, n in sorted(self.counts[s].items(), key=lambda kv: -kv[1]):
                    cells = [c.get((code, v), 0) for v in values]
                    other = n - sum(cells)
                    rows.append([s, code, _name(taxonomy, s, code)] + cells + ([other] if rest else []) + [n])
            sheets[f"按{b}"] = rows
        return sheets

    def render(self) -> str:
        lines = [f"共输出 {self.rows} 行" + (f"（其中空白文本 {self.empty} 行，按低质/空泛计）" if self.empty else "")]
        for s in self.schemes:
            if self.counts[s]:
                lines.append(f"  {s}：" + "，".join(f"{c} {n}" for c, n in
                                                    sorted(self.counts[s].items(), key=lambda kv: -kv[1])))
        return "\n".join(lines)


def _name(taxonomy: Taxonomy | None, sid: str, code: str) -> str:
    if taxonomy is None or sid not in taxonomy.ids:
        return ""
    name = taxonomy[sid].name_of(code)
    return "" if name == code else name
