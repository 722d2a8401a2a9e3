"""Merge staged hand-written rows (``corpora/v3/*.jsonl``, one labeled row a line, with element
spans) into the corpus and the element annotations.

    python -m nlp.staging corpora/v3/colloquial.jsonl corpora/v3/negatives.jsonl

Each row gets the next free id, a split (grouped by case note, stratified like the rest of the
corpus; rows of an existing note follow that note's split) and, when it carries ``elements``,
an entry in ``corpora/elements.jsonl`` with character offsets. Rows that fail validation, repeat
a corpus row (5-gram Jaccard at the corpus threshold) or copy 15+ characters from the sources are
reported and left out. Existing rows are never changed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from nlp import corpus as corpus_mod
from nlp.io import write_text_atomic
from nlp.taxonomy import load_taxonomy

ELEMENT_NAMES = ("对象", "时间", "地点", "具体行为", "后果")


def element_path() -> Path:
    return corpus_mod.default_corpus().parent / "elements.jsonl"


def spans(text: str, elements: dict) -> list[dict]:
    """Character spans of each element string (first occurrence not already taken)."""
    out, taken = [], set()
    for name in ELEMENT_NAMES:
        for piece in elements.get(name, []) or []:
            piece = str(piece)
            start = text.find(piece) if piece else -1
            while start >= 0 and (name, start) in taken:
                start = text.find(piece, start + 1)
            if start < 0:
                continue
            taken.add((name, start))
            out.append({"label": name, "start": start, "end": start + len(piece), "text": piece})
    return sorted(out, key=lambda s: (s["start"], s["end"]))


def read_staged(paths: list[str]) -> tuple[pd.DataFrame, list[str]]:
    rows, problems = [], []
    for p in paths:
        for n, line in enumerate(Path(p).read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                problems.append(f"{p} 第 {n} 行不是合法 JSON，跳过")
                continue
            obj["_file"] = f"{Path(p).name}:{n}"
            rows.append(obj)
    return pd.DataFrame(rows), problems


def merge(paths: list[str], corpus_path: Path | None = None, sources: Path | None = None,
          dry_run: bool = False) -> int:
    """Merge staged rows; with ``dry_run`` only report what would be merged and what is refused."""
    taxonomy = load_taxonomy()
    corpus_path = corpus_path or corpus_mod.default_corpus()
    base = corpus_mod.read_corpus(corpus_path)
    new, problems = read_staged(paths)
    if new.empty:
        print("没有可合并的行。")
        return 1
    for c in corpus_mod.BASE_COLUMNS + corpus_mod.META_COLUMNS:
        if c not in new.columns:
            new[c] = ""
    new = new.fillna("")
    keep = pd.Series(True, index=new.index)
    for p in corpus_mod.validate_rows(new, taxonomy):
        keep.iloc[p.row - 1] = False
        problems.append(f"{new.iloc[p.row - 1]['_file']}：{p.message}（{p.column}）")
    dup_of = corpus_mod.near_duplicates(new["text"].tolist(), corpus_mod.minimums()["near_duplicate_jaccard"],
                                        others=base["text"].tolist())
    for i, j, jac in dup_of:
        keep.iloc[i] = False
        problems.append(f"{new.iloc[i]['_file']}：与语料 {base.iloc[j]['id']} 近似重复（{jac}）")
    within = corpus_mod.near_duplicates(new["text"].tolist(), corpus_mod.minimums()["near_duplicate_jaccard"])
    for i, j, jac in within:
        if keep.iloc[i]:
            keep.iloc[j] = False
            problems.append(f"{new.iloc[j]['_file']}：与 {new.iloc[i]['_file']} 近似重复（{jac}）")
    folder = sources or corpus_mod.default_sources()
    if (folder / "cases").is_dir():
        n = corpus_mod.minimums()["max_verbatim_run"]
        for k, run in corpus_mod.verbatim_runs(new["text"].tolist(), corpus_mod.source_texts(folder), n):
            keep.iloc[k] = False
            problems.append(f"{new.iloc[k]['_file']}：与来源原文连续 {n} 字相同（{run}）")
    for k, r in enumerate(new.to_dict("records")):
        for name, pieces in (r.get("elements") or {}).items() if isinstance(r.get("elements"), dict) else ():
            for piece in pieces or []:
                if str(piece) not in str(r["text"]):
                    problems.append(f"{r['_file']}：要素 {name}“{piece}”不在文本中")
    new = new[keep].reset_index(drop=True)
    if dry_run:
        for p in problems:
            print(p)
        print(f"检查完毕：可合并 {len(new)} 行，问题 {len(problems)} 处（未写入任何文件）。")
        return 0 if not problems else 1
    start = int(base["id"].str[1:].astype(int).max()) + 1
    new["id"] = [f"C{start + k:05d}" for k in range(len(new))]
    note_split = dict(zip(base["case"], base["split"]))
    fresh = corpus_mod.assign_splits(new)
    new["split"] = [note_split.get(c, s) if c else s for c, s in zip(new["case"], fresh)]
    new["added"] = pd.Timestamp.today().date().isoformat()
    new["round"] = new["round"].where(new["round"] != "", "v3")
    merged = pd.concat([base, new[base.columns.intersection(new.columns)]], ignore_index=True).fillna("")
    from nlp.training import write_corpus

    write_corpus(merged, corpus_path)
    ann_path = element_path()
    lines = ann_path.read_text(encoding="utf-8").splitlines() if ann_path.exists() else []
    for r in new.to_dict("records"):
        if isinstance(r.get("elements"), dict):
            lines.append(json.dumps({"id": r["id"], "text": r["text"], "spans": spans(r["text"], r["elements"]),
                                     "annotator": "A"}, ensure_ascii=False))
    write_text_atomic(ann_path, "\n".join(lines) + "\n")
    for p in problems:
        print(p)
    print(f"已合并 {len(new)} 行（{new['id'].iloc[0] if len(new) else ''}…），跳过 {len(problems)} 处问题。")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    dry_run = "--check" in argv
    argv = [a for a in argv if a != "--check"]
    if not argv:
        print("用法：python -m nlp.staging [--check] 暂存文件.jsonl [...]", file=sys.stderr)
        return 2
    return merge(argv, dry_run=dry_run)


if __name__ == "__main__":
    sys.exit(main())
