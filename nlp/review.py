"""The audit round trip: ``train.py --audit`` writes the labels most likely wrong, most likely
first, with a 复核结论 and a 核对人 column; a person fills them in; ``train.py --add`` reads the
file back and changes the corpus rows by id (nothing is appended, nothing is duplicated).

复核结论 is one of: 维持 (the label stays), 改为模型判断 (take the model's label), or 改为 + a code
or name (``改为 D07``, ``改为 群众意识淡漠……``, ``D07``; for 质量 ``改为 低质/空泛``). Rows with
no conclusion are left as they are.
"""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

import pandas as pd

from nlp import corpus as corpus_mod
from nlp.errors import UserError
from nlp.taxonomy import GOOD, LOW, QUALITY, REASON, Taxonomy

HEAD, GIVEN, MODEL = "头部", "现有标注", "模型判断"
CONCLUSION, REVIEWER = "复核结论", "核对人"
KEEP = ("维持", "维持原标注", "原标注正确", "正确", "不改")
TAKE_MODEL = ("改为模型判断", "采纳模型判断", "同意模型判断", "按模型判断")
_CHANGE = re.compile(r"(?:改为|改成|应为|更正为)?[:\s]*(?P<to>.+)")
_PARTS = re.compile(r"[/,、;\s]+")
SHEET = "待复核"


def rank(found: pd.DataFrame, taxonomy: Taxonomy | None = None) -> pd.DataFrame:
    """Most likely mislabeled first (the lowest probability of the given label, then the
    model's confidence in its own), numbered, the codes' names beside them, with empty 复核结论
    and 核对人 columns."""
    out = found.sort_values(["现有标注概率", "模型置信度"], ascending=[True, False], kind="stable")
    out = out.reset_index(drop=True)
    out.insert(0, "序号", range(1, len(out) + 1))
    if taxonomy is not None:
        for col in (MODEL, GIVEN):
            names = [taxonomy[h].name_of(c) if h in taxonomy.ids else "" for h, c in zip(out[HEAD], out[col])]
            out.insert(out.columns.get_loc(col) + 1, f"{col}名称", names)
    out[CONCLUSION] = ""
    out[REVIEWER] = ""
    return out


def write_audit(found: pd.DataFrame, target: str | Path) -> None:
    """The ranked rows as a review sheet: XLSX with a drop-down for 复核结论 (typing 改为 D07 is
    accepted too), or CSV/JSONL through the ordinary writer."""
    from nlp.io import TableWriter, atomic_path, file_format

    if file_format(target) != "xlsx":
        with TableWriter(target, sheet=SHEET) as w:
            w.write(found)
        return
    from nlp.ledger import drop_down, editable_workbook

    wb, ws, columns = editable_workbook(SHEET, found)
    drop_down(ws, f'"{KEEP[0]},{TAKE_MODEL[0]}"', columns.index(CONCLUSION), len(found) + 1)
    with atomic_path(target) as tmp:
        wb.save(tmp)


def is_audit(frame: pd.DataFrame) -> bool:
    return {HEAD, GIVEN, CONCLUSION} <= set(frame.columns)


def _nfkc(v) -> str:
    return unicodedata.normalize("NFKC", str(v or "")).strip()


def _target(conclusion: str, model_label: str) -> str | None:
    """None to keep the label; else the label as typed (code, name, or 质量/原因)."""
    text = _nfkc(conclusion)
    if text.startswith(KEEP):
        return None
    if text in TAKE_MODEL:
        return model_label
    return _CHANGE.fullmatch(text).group("to").strip()


def apply(corpus: pd.DataFrame, sheet: pd.DataFrame, taxonomy: Taxonomy, path) -> tuple[pd.DataFrame, list, list]:
    """The corpus with the concluded changes; the changes ({id, column, old, new}) and notes."""
    corpus = corpus.copy()
    where = {rid: k for k, rid in zip(corpus.index, corpus["id"])}
    changes, notes, problems = [], [], []
    kept = skipped = 0
    touched: dict[int, int] = {}  # corpus index -> Excel row of the sheet
    for n, r in enumerate(sheet.to_dict("records"), start=2):
        conclusion = _nfkc(r.get(CONCLUSION, ""))
        if not conclusion:
            skipped += 1
            continue
        rid, sid = str(r.get("id", "")).strip(), _nfkc(r.get(HEAD, ""))
        k = where.get(rid)
        if k is None:
            problems.append(f"第 {n} 行：语料中没有 id“{rid}”")
            continue
        if sid not in taxonomy.ids or sid not in corpus.columns:
            problems.append(f"第 {n} 行：“{HEAD}”列“{sid}”不是标签列")
            continue
        if str(corpus.at[k, sid]) != _nfkc(r.get(GIVEN, "")):
            notes.append(f"第 {n} 行：语料 {rid} 的“{sid}”已不是“{r.get(GIVEN, '')}”（现为“{corpus.at[k, sid]}”），跳过")
            continue
        target = _target(conclusion, _nfkc(r.get(MODEL, "")))
        new = {} if target is None else _new_labels(taxonomy, sid, target)
        if new is None:
            form = taxonomy[sid].accepted_form()
            problems.append(f"第 {n} 行“{CONCLUSION}”列：看不懂“{conclusion}”；应填“{KEEP[0]}”、“{TAKE_MODEL[0]}”，"
                            f"或“改为”加{form}" + ("（质量改为低质时写明原因，如“改为 低质/空泛”）" if sid == QUALITY else ""))
            continue
        if not any(str(corpus.at[k, c]) != v for c, v in new.items()):
            kept += 1
        reviewer = _nfkc(r.get(REVIEWER, ""))
        if reviewer:
            new["reviewer"] = reviewer
        for c, v in new.items():
            if c not in corpus.columns:
                continue
            old = str(corpus.at[k, c])
            if old != v:
                changes.append({"id": rid, "column": c, "old": old, "new": v})
                corpus.at[k, c] = v
        touched[k] = n
    bad = corpus_mod.validate_rows(corpus.loc[list(touched)], taxonomy) if touched else []
    rows = list(touched.values())
    problems += [f"第 {rows[p.row - 1]} 行（语料 {corpus.loc[list(touched)[p.row - 1], 'id']}）：“{p.column}”列{p.message}"
                 for p in bad if p.row is not None]
    if problems:
        shown = "\n".join(f"  {p}" for p in problems[:30])
        raise UserError(f"{path} 有 {len(problems)} 处复核结论无法执行（行号按 Excel 计），语料没有改动：\n{shown}")
    relabeled = sum(c["column"] != "reviewer" for c in changes)
    notes.insert(0, f"复核结论：{kept} 处维持原标注，改标 {relabeled} 个单元格，{skipped} 行未填结论（不动）。")
    return corpus, changes, notes


def _new_labels(taxonomy: Taxonomy, sid: str, target: str) -> dict | None:
    """The cells a conclusion sets; None when it cannot be read."""
    if sid == QUALITY:
        parts = [p for p in _PARTS.split(target) if p]
        quality = taxonomy[QUALITY].canonical(parts[0]) if parts else ""
        if quality == LOW:
            reason = taxonomy[REASON].canonical(parts[1]) if len(parts) > 1 else ""
            if reason not in taxonomy[REASON].code_list:
                return None
            cleared = {s.id: "" for s in taxonomy.schemes if s.applies_to == GOOD}
            return {QUALITY: LOW, REASON: reason, **cleared}
        return {QUALITY: GOOD, REASON: ""} if quality == GOOD and len(parts) == 1 else None
    code = taxonomy[sid].canonical(target)
    return None if taxonomy[sid].invalid(code) or not code else {sid: code}
