"""Training jobs: build a model version from the corpus, guard its promotion, merge new labels, audit.

The command line (nlp.cli) calls these; they know the corpus, the classifier and the registry,
and nothing of argument parsing.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import KFold

from nlp import corpus as corpus_mod
from nlp.elements.corpus import train_elements
from nlp.errors import UserError
from nlp.io import atomic_path, read_table
from nlp.model import ClueClassifier
from nlp.normalize import normalize
from nlp.registry import Registry, library_versions
from nlp.report import evaluate, headline, render_markdown
from nlp.taxonomy import GOOD, LOW, QUALITY, REASON, Taxonomy, load_taxonomy

DEFAULT_SEED = 20261122


def label_columns(taxonomy: Taxonomy, df: pd.DataFrame) -> list[str]:
    return [s for s in taxonomy.ids if s in df.columns]


@dataclass
class TrainResult:
    version: str
    evaluation: dict
    info: dict


def fit_on(df: pd.DataFrame, taxonomy: Taxonomy, seed: int, backend: str, taxonomy_path: str | None):
    cols = label_columns(taxonomy, df)
    train = df[df["split"] == "train"]
    dev = df[df["split"] == "dev"]
    if (train[QUALITY] == GOOD).sum() < 2 or (train[QUALITY] == LOW).sum() < 2:
        raise UserError("训练集太小：合格和低质样本各至少需要 2 行。")
    model = ClueClassifier(taxonomy_path=taxonomy_path, backend=backend, random_state=seed)
    shift = train["voice"].fillna("").astype(str).tolist() if "voice" in train.columns else None
    model.fit(train["text"].tolist(), train[cols], dev["text"].tolist(), dev[cols], groups=row_groups(train),
              shift=shift, dev_groups=row_groups(dev))
    return model


def embed_info(model) -> dict:
    """What the version's encoder table is (nlp/embed.py), or why it has none."""
    table = getattr(model, "embedding_", None)
    if table is None:
        return {"words": 0, "note": getattr(model, "embed_note_", "")}
    return {"encoder": table.encoder if isinstance(table.encoder, str) else "custom",
            "words": int(table.table_.shape[0]), "dims": int(table.dim_)}


def row_groups(df: pd.DataFrame) -> list[str]:
    """Calibration groups: rows rewritten from one case note form one group, other rows their own."""
    case = df["case"].fillna("").astype(str) if "case" in df.columns else pd.Series([""] * len(df), index=df.index)
    return [c if c.strip() else f"row:{i}" for i, c in zip(df.index, case)]


def build(corpus_path: str | Path | None = None, seed: int = DEFAULT_SEED, backend: str = "auto",
          registry: Registry | None = None, taxonomy_path: str | None = None, df: pd.DataFrame | None = None,
          log=print, note: dict | None = None) -> TrainResult:
    """Train every head on the train split, tune on dev, evaluate on test, save a new version."""
    registry = registry or Registry()
    taxonomy = load_taxonomy(taxonomy_path)
    if df is None:
        df = corpus_mod.read_corpus(corpus_path)
    problems = corpus_mod.validate_rows(df, taxonomy)
    if problems:
        shown = "\n".join(str(p) for p in problems[:20])
        raise UserError(f"语料有 {len(problems)} 处错误，未训练：\n{shown}")
    cols = label_columns(taxonomy, df)
    test = df[df["split"] == "test"]
    log(f"训练中：train {int((df['split'] == 'train').sum())} 行，dev {int((df['split'] == 'dev').sum())} 行，"
        f"test {len(test)} 行（只用于评估）……")
    model = fit_on(df, taxonomy, seed, backend, taxonomy_path)
    if getattr(model, "embed_note_", ""):
        log(model.embed_note_)  # the encoder is missing: heads with "+embed" were trained without the table
    evaluation = evaluate(model, test["text"].tolist(), test[cols]) if len(test) else {"rows": 0, "heads": {}}
    # the element tagger is part of the version (pickled with the model, signed with it)
    model.element_tagger_, model.element_presence_, evaluation["elements"] = train_elements(df, corpus_path, model,
                                                                                            log)
    info = {
        "corpus_hash": corpus_mod.corpus_hash(df),
        "corpus_rows": len(df),
        "taxonomy_version": taxonomy.version,
        "taxonomy_digest": taxonomy.digest,
        "seed": seed,
        "backend": model.tokenizer_.backend_name,
        "train_rows": int((df["split"] == "train").sum()),
        "dev_rows": int((df["split"] == "dev").sum()),
        "test_rows": len(test),
        "heads": list(model.schemes_),
        "quality_temperature": getattr(model, "temperature_", {}).get(QUALITY, 1.0),
        "embed_table": embed_info(model),
        "headline": headline(evaluation),
        **(note or {}),  # e.g. the corpus batch this version was trained with
    }
    info_for_report = {**info, "libraries": library_versions()}
    version = registry.save(model, {"info": info_for_report, "evaluation": evaluation},
                            lambda v: render_markdown({**info_for_report, "version": v}, evaluation), info)
    info["version"] = version
    return TrainResult(version, evaluation, info)


def compare(new: dict[str, float], old: dict[str, float], tolerance: float, where: str) -> list[str]:
    """Heads whose figure dropped by more than the tolerance."""
    drops = []
    for head, old_v in old.items():
        new_v = new.get(head)
        if new_v is None:
            continue
        if new_v < old_v - tolerance:
            drops.append(f"{where}“{head}”macro-F1 从 {old_v:.3f} 降到 {new_v:.3f}（下降 {old_v - new_v:.3f}）")
    return drops


# ------------------------------------------------------------------ --add
@dataclass
class Merge:
    frame: pd.DataFrame  # the merged corpus
    added: pd.DataFrame  # the new rows as merged
    duplicates: list[str]
    conflicts: list[str]
    unlabeled: int = 0
    unreviewed: int = 0  # labeled rows left out because no person confirmed them
    changes: list = field(default_factory=list)  # labels of existing rows changed: {id, column, old, new}
    notes: list = field(default_factory=list)  # what else to tell the user


def _norm_key(text: str) -> str:
    return "".join(normalize(text).split())


REVIEWED = "已核对"  # column marking rows whose labels a person confirmed
REVIEWER = "核对人"
REVIEW_DATE = "核对日期"
REVIEWED_YES = frozenset({"是", "已核对", "已确认", "确认", "1", "true", "yes", "y", "√", "✓", "✔"})
WORKSHEET_MARK = "模型建议"  # a column only our labeling worksheet has: its label columns are typed by a person


def confirmed_rows(new: pd.DataFrame, path, trust_labels: bool) -> tuple[pd.Series, int]:
    """Which rows carry labels a person confirmed (a model never learns its own unconfirmed guesses).

    - an ``已核对`` column: only rows marked 是 (or 已核对, √, 1 ...);
    - our labeling worksheet (``classify.py --suggest``), whose label columns start empty and are
      typed by a person: its labeled rows;
    - anything else (e.g. a classify.py output, whose labels are the model's): refused unless
      ``--trust-labels`` says every label in the file was confirmed by a person.
    Returns the mask and the number of rows left out as unreviewed."""
    if REVIEWED in new.columns:
        ok = new[REVIEWED].fillna("").astype(str).str.strip().str.lower().isin(REVIEWED_YES)
        return ok, int((~ok).sum())
    if trust_labels or WORKSHEET_MARK in new.columns:
        return pd.Series(True, index=new.index), 0
    raise UserError(f"{path} 没有“{REVIEWED}”列，无法确认哪些标签经过人工核对：模型只从人工确认的标签学习，"
                    f"不会学习它自己未经确认的判断。请在“{REVIEWED}”列对核对过的行填“是”（可加“{REVIEWER}”列），"
                    "或在确认文件中全部标签都经人工核对后加 --trust-labels。")


def _same_form(taxonomy: Taxonomy, column: str, value) -> str:
    """A corpus cell in the form new rows take (codes of a multi-label cell in code order)."""
    value = str(value or "").strip()
    return taxonomy[column].canonical(value) if column in taxonomy else value


def _review_date(row: dict) -> str:
    """The 核对日期 a row carries (the desk's review queue and its export), as YYYY-MM-DD."""
    value = str(row.get(REVIEW_DATE, "")).strip()[:10]
    return value if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) else ""


def merge_labeled(corpus: pd.DataFrame, path: str | Path, taxonomy: Taxonomy, prefer: str | None,
                  trust_labels: bool = False, batch: str | None = None) -> Merge:
    """Validate labeled rows from a file (or the intake desk's review database) and merge them into
    the corpus (in memory). New rows
    carry ``batch`` (default: today's date) in their ``added`` column. A reviewed audit sheet
    (``--audit``) changes the corpus rows it names instead."""
    from nlp import review
    from nlp.service.reviews import confirmed_table, is_review_db

    new = confirmed_table(path, taxonomy.ids) if is_review_db(path) else read_table(path)
    new.columns = [str(c).strip() for c in new.columns]
    if review.is_audit(new):
        merged, changes, notes = review.apply(corpus, new, taxonomy, path)
        return Merge(merged, corpus.iloc[0:0], [], [], changes=changes, notes=notes)
    if "text" not in new.columns and "文本" in new.columns:
        new = new.rename(columns={"文本": "text"})
    if "text" not in new.columns:
        raise UserError(f"{path} 没有“text”列。现有列：{'、'.join(new.columns)}")
    present = [c for c in taxonomy.ids if c in new.columns]
    unlabeled = (new[present].fillna("").astype(str).apply(lambda col: col.str.strip()) == "").all(axis=1) \
        if present else pd.Series(True, index=new.index)
    confirmed, unreviewed = confirmed_rows(new, path, trust_labels)
    unreviewed = int((~confirmed & ~unlabeled).sum())
    excel_rows = pd.Series(range(2, len(new) + 2), index=new.index)
    keep = ~unlabeled & confirmed
    new, excel_rows = new[keep].reset_index(drop=True), excel_rows[keep].reset_index(drop=True)
    skipped = int(unlabeled.sum())
    if new.empty and unreviewed:
        raise UserError(f"{path} 中有 {unreviewed} 行已填标签但未标为“{REVIEWED}”，没有可加入语料的人工确认行。")
    if new.empty:
        raise UserError(f"{path} 没有已标注的行（质量等标签列都为空）。")
    for c in present:  # labels as people type them: 懒、软 / 散｜软 / d12 / names -> codes
        new[c] = new[c].fillna("").astype(str).map(taxonomy[c].canonical)
    problems = corpus_mod.validate_rows(new, taxonomy, first_row=2)
    for p in problems:
        if p.row is not None:
            p.row = int(excel_rows[p.row - 2])
    if problems:
        shown = "\n".join(f"  {p}" for p in problems[:30])
        more = f"\n  ……另有 {len(problems) - 30} 处" if len(problems) > 30 else ""
        raise UserError(f"{path} 有 {len(problems)} 处错误（行号按 Excel 计，表头为第 1 行），一行也没有合并：\n{shown}{more}")
    cols = label_columns(taxonomy, new)
    new = new.fillna("").astype(str)
    for c in cols:
        new[c] = new[c].str.strip()
    corpus = corpus.copy()
    for c in cols:
        if c not in corpus.columns:
            corpus[c] = ""  # a user scheme column arriving for the first time
    keys = {_norm_key(t): i for i, t in enumerate(corpus["text"])}
    near = corpus_mod.near_duplicates(new["text"].tolist(), 0.8, others=corpus["text"].tolist())
    near_of: dict[int, int] = {}
    for i, j, _ in near:
        near_of.setdefault(i, j)
    today = batch or _dt.date.today().isoformat()
    source = f"added:{Path(path).name}"
    dup_msgs, conflicts, rows = [], [], []
    replace: dict[int, dict] = {}
    seen_new: dict[str, int] = {}
    for k, r in enumerate(new.to_dict("records")):
        excel_row = int(excel_rows[k])
        key = _norm_key(r["text"])
        if key in seen_new:
            dup_msgs.append(f"第 {excel_row} 行与本文件第 {seen_new[key]} 行重复，只保留一次")
            continue
        seen_new[key] = excel_row
        j = keys.get(key, near_of.get(k))
        if j is not None:
            old = corpus.iloc[j]
            # the corpus cell read as typed labels are (软|懒 and 懒|软 are the same labels)
            differs = [c for c in cols if taxonomy[c].canonical(str(old.get(c, ""))) != r[c]
                       and not (c not in corpus_mod.BASE_COLUMNS and r[c] == "")]
            if not differs:
                dup_msgs.append(f"第 {excel_row} 行与语料 {old['id']} 重复（标签一致），不重复添加")
                continue
            detail = "，".join(f"{c}：语料“{old.get(c, '')}” / 新“{r[c]}”" for c in differs)
            conflicts.append(f"第 {excel_row} 行与语料 {old['id']} 文本相同或近似但标签不同（{detail}）")
            if prefer == "new":
                replace[j] = {c: r[c] for c in cols}
            continue
        rid = r.get("id", "").strip()
        rows.append({**{c: r.get(c, "") for c in cols}, "text": r["text"], "id": rid,
                     "source": source, "case": r.get("case", ""), "voice": r.get("voice", ""),
                     "split": "train", "added": _review_date(r) or today, "reviewer": str(r.get(REVIEWER, "")).strip()})
    if conflicts and prefer not in ("new", "old"):
        shown = "\n".join(f"  {c}" for c in conflicts[:30])
        raise UserError(f"发现 {len(conflicts)} 处标签冲突，一行也没有合并。请核对后用 --prefer new（以新标注为准）"
                        f"或 --prefer old（保留语料原标注）重新运行：\n{shown}")
    changes = []
    for j, values in replace.items():
        for c, v in values.items():
            old = str(corpus.iat[j, corpus.columns.get_loc(c)])
            if old != v:
                changes.append({"id": str(corpus.iat[j, corpus.columns.get_loc("id")]), "column": c, "old": old, "new": v})
            corpus.iat[j, corpus.columns.get_loc(c)] = v
    added = pd.DataFrame(rows, columns=list(dict.fromkeys(list(corpus.columns) + cols)))
    used = set(corpus["id"])
    stamp = _dt.date.today().strftime("%Y%m%d")
    n = 0
    for k in added.index:
        rid = added.at[k, "id"]
        if not rid or rid in used:
            n += 1
            while f"A{stamp}-{n:04d}" in used:
                n += 1
            rid = f"A{stamp}-{n:04d}"
        added.at[k, "id"] = rid
        used.add(rid)
    merged = pd.concat([corpus, added], ignore_index=True).fillna("")
    return Merge(merged, added, dup_msgs, conflicts, skipped, unreviewed, changes)


def write_corpus(df: pd.DataFrame, path: str | Path) -> None:
    cols = list(dict.fromkeys(corpus_mod.BASE_COLUMNS + [c for c in df.columns if c not in corpus_mod.META_COLUMNS]
                              + corpus_mod.META_COLUMNS))
    with atomic_path(path) as tmp:
        df.reindex(columns=cols).fillna("").to_csv(tmp, index=False, encoding="utf-8")


def added_rows_comparison(df: pd.DataFrame, added_ids: list[str], current_model, taxonomy: Taxonomy, seed: int,
                          backend: str, taxonomy_path: str | None, folds: int = 3) -> tuple[dict, dict]:
    """Held-out folds of the added rows: new model (trained without the fold) vs the current one."""
    added_mask = df["id"].isin(added_ids).to_numpy()
    idx = np.flatnonzero(added_mask)
    cols = label_columns(taxonomy, df)
    if len(idx) < folds * 2:
        return {}, {}
    kf = KFold(n_splits=folds, shuffle=True, random_state=seed)
    new_evals = []
    for train_i, test_i in kf.split(idx):
        held = idx[test_i]
        part = df.drop(index=df.index[held])
        model = fit_on(part, taxonomy, seed, backend, taxonomy_path)
        rows = df.iloc[held]
        new_evals.append((model, rows))
    # Evaluate on the concatenated held-out rows: each row predicted by the model that did not see it.
    new_scores = _pooled_eval(new_evals, cols)
    old_scores = headline(evaluate(current_model, df.iloc[idx]["text"].tolist(), df.iloc[idx][cols])) \
        if current_model is not None else {}
    return new_scores, old_scores


def _pooled_eval(model_rows: list, cols: list[str]) -> dict:
    """macro-F1 per head over rows each predicted by its own fold model."""
    from sklearn.metrics import f1_score

    gold: dict[str, list] = {}
    pred: dict[str, list] = {}
    for model, rows in model_rows:
        labels = rows[cols].reset_index(drop=True)
        for sid in model.schemes_:
            scheme = model.taxonomy_[sid]
            mask = model._rows_for(scheme, labels).to_numpy()
            if scheme.multi:
                continue
            # for 合格-only heads, score the head itself: predict without the quality gate
            probs = model.predict_proba(rows["text"].tolist())[sid]
            p = np.array(scheme.code_list)[probs.argmax(axis=1)]
            gold.setdefault(sid, []).extend(labels.loc[mask, sid].tolist())
            pred.setdefault(sid, []).extend(p[mask].tolist())
    return {sid: round(float(f1_score(gold[sid], pred[sid], average="macro", zero_division=0)), 4)
            for sid in gold if gold[sid]}


# ------------------------------------------------------------------ --audit
def audit(df: pd.DataFrame, taxonomy: Taxonomy, seed: int, backend: str, taxonomy_path: str | None,
          folds: int = 5, confidence: float = 0.7) -> pd.DataFrame:
    """Rows whose label disagrees confidently with a cross-validated prediction (cleanlab's idea:
    out-of-fold probabilities; flag rows where the model is confident in another label and gives
    the given label little probability)."""
    cols = label_columns(taxonomy, df)
    df = df.reset_index(drop=True)
    kf = KFold(n_splits=folds, shuffle=True, random_state=seed)
    found = []
    for train_i, test_i in kf.split(df):
        part = df.iloc[train_i].copy()
        part["split"] = "train"
        model = ClueClassifier(taxonomy_path=taxonomy_path, backend=backend, random_state=seed)
        model.fit(part["text"].tolist(), part[cols])
        rows = df.iloc[test_i]
        probs = model.predict_proba(rows["text"].tolist())
        labels = rows[cols].reset_index(drop=True)
        for sid in model.schemes_:
            scheme = taxonomy[sid]
            if scheme.multi:
                continue
            mask = model._rows_for(scheme, labels).to_numpy()
            P = probs[sid]
            codes = scheme.code_list
            for k in np.flatnonzero(mask):
                given = labels.at[k, sid]
                if given not in codes:
                    continue
                j = int(P[k].argmax())
                if codes[j] != given and P[k, j] >= confidence and P[k, codes.index(given)] <= (1 - confidence) / 2:
                    r = rows.iloc[k]
                    found.append({"id": r["id"], "头部": sid, "现有标注": given, "模型判断": codes[j],
                                  "模型置信度": round(float(P[k, j]), 3),
                                  "现有标注概率": round(float(P[k, codes.index(given)]), 3), "text": r["text"]})
    out = pd.DataFrame(found, columns=["id", "头部", "现有标注", "模型判断", "模型置信度", "现有标注概率", "text"])
    return out.sort_values("模型置信度", ascending=False).reset_index(drop=True)
