"""The element annotations, and the tagger trained on them inside a model version's build.

Two line formats are read (one JSON object a line):

- ``corpora/elements.jsonl``: ``{"id", "text", "spans": [{"label", "start", "end", ...}]}``; the id
  links to ``corpora/clues.csv`` for the case note and the split;
- staged rows (``corpora/v3/*.jsonl``): ``{"text", "case", "elements": {element: [piece, ...]}}``;
  rows of one case note go to the same side of the split (a stable hash of the note).

Texts are normalised like everything the pipeline reads; spans move with them.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import pandas as pd

from nlp.elements.patterns import ELEMENTS
from nlp.errors import UserError
from nlp.normalize import normalize
from nlp.staging import spans as find_spans

MIN_ROWS = 10  # fewer annotated training rows than this: no tagger (the patterns decide)


def _row_spans(obj: dict) -> dict[str, list[str]]:
    """Element -> pieces, from either line format."""
    if isinstance(obj.get("elements"), dict):
        return {k: [str(p) for p in (v or []) if str(p)] for k, v in obj["elements"].items() if k in ELEMENTS}
    pieces: dict[str, list[str]] = {}
    text = str(obj.get("text", ""))
    for s in obj.get("spans") or []:
        if s.get("label") in ELEMENTS:
            piece = text[int(s["start"]):int(s["end"])] if "start" in s else str(s.get("text", ""))
            pieces.setdefault(s["label"], []).append(piece)
    return pieces


def read_annotations(paths: list[str | Path], corpus: pd.DataFrame | None = None) -> pd.DataFrame:
    """Annotated rows: id, text (normalised), spans (on the normalised text), case, split."""
    case_of, split_of = {}, {}
    if corpus is not None and "id" in corpus.columns:
        case_of = dict(zip(corpus["id"].astype(str), corpus.get("case", pd.Series("", index=corpus.index))))
        split_of = dict(zip(corpus["id"].astype(str), corpus.get("split", pd.Series("", index=corpus.index))))
    rows = []
    for path in paths:
        path = Path(path)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            raise UserError(f"无法读取要素标注文件 {path}（须为 UTF-8 编码的 JSONL 文件）。") from None
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                raise UserError(f"要素标注文件 {path} 第 {n} 行不是合法 JSON。") from None
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                raise UserError(f"要素标注文件 {path} 第 {n} 行缺少 text。")
            rid = str(obj.get("id") or f"{path.name}:{n}")
            text = normalize(obj["text"])
            pieces = {k: [normalize(p) for p in v] for k, v in _row_spans(obj).items()}
            found = find_spans(text, pieces)
            case = str(case_of.get(rid) or obj.get("case") or "")
            group = case or rid
            split = str(split_of.get(rid) or ("test" if zlib.crc32(group.encode()) % 5 == 0 else "train"))
            rows.append({"id": rid, "text": text, "case": case, "group": group, "split": split,
                         "spans": [(s["label"], s["start"], s["end"]) for s in found]})
    return pd.DataFrame(rows, columns=["id", "text", "case", "group", "split", "spans"])


def annotation_path(corpus_path: str | Path | None) -> Path:
    from nlp.corpus import default_corpus

    return Path(corpus_path or default_corpus()).parent / "elements.jsonl"


def train_elements(corpus: pd.DataFrame, corpus_path, model, log=print):
    """(tagger or None, presence model or None, evaluation) for a model version: fitted on the
    train/dev rows of the annotations, evaluated on their test rows against the regex extractor."""
    from nlp.elements.evaluate import compare
    from nlp.elements.fitting import fit_extractor

    path = annotation_path(corpus_path)
    if not path.exists():
        log("没有要素标注文件（corpora/elements.jsonl），要素仍按规则模式提取。")
        return None, None, {}
    ann = read_annotations([path], corpus)
    train = ann[ann["split"] != "test"]
    test = ann[ann["split"] == "test"]
    if len(train) < MIN_ROWS:
        log(f"要素标注只有 {len(train)} 行可用于训练（至少需要 {MIN_ROWS} 行），要素仍按规则模式提取。")
        return None, None, {}
    log(f"训练要素标注器：{len(train)} 行标注（另有 {len(test)} 行只用于评估）……")
    tagger, presence = fit_extractor(train["text"].tolist(), train["spans"].tolist(), train["group"].tolist(),
                                     lambda texts: model.transform(texts, normalized=True), model.tokenizer_)
    evaluation = compare(tagger, presence, model, test) if len(test) else {}
    if evaluation:
        evaluation["train_rows"] = len(train)
    return tagger, presence, evaluation
