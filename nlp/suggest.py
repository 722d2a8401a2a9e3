"""``classify.py IN -o sheet.xlsx --suggest N``: the N clues the model is least sure of, as an
annotation worksheet (the rows an officer's labels help the model most)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from nlp.batch import _columns, check_chunk
from nlp.cli_zh import command
from nlp.errors import UserError

def suggest_sheet(annotator, source: Path, target: Path, column: Optional[str], n: int, chunk_size: int,
             options=None) -> None:
    import heapq

    import numpy as np
    import pandas as pd

    from nlp.corpus import near_duplicates
    from nlp.io import NonText, read_chunks
    from nlp.normalize import normalize
    from nlp.worksheet import write_worksheet

    if target.suffix.lower() != ".xlsx":
        raise UserError("标注工作表须为 .xlsx 文件（带下拉列表），例如 -o 工作表.xlsx")
    model = annotator.model
    heap: list = []  # (uncertainty, row order, id, text, input row) — the most uncertain 5n kept
    order = 0
    said: set = set()
    for chunk in read_chunks(source, chunk_size, options):
        column, _ = _columns(annotator, chunk, column, said)
        check_chunk(chunk, column, source)
        texts = [str(v) for v in chunk.frame[column]]
        ids = chunk.frame["id"].astype(str).tolist() if "id" in chunk.frame.columns else [str(r + 1) for r in chunk.rows]
        records = chunk.frame.to_dict("records")
        keep = [i for i, t in enumerate(texts) if t.strip()]
        if not keep:
            continue
        norm = [normalize(texts[i]) for i in keep]
        probs = model.predict_proba(norm, normalized=True)
        u = np.zeros(len(keep))
        heads = 0
        for sid, P in probs.items():
            if model.taxonomy_[sid].multi:
                u += (1 - np.abs(2 * P - 1)).mean(axis=1)
            else:
                top2 = np.sort(P, axis=1)[:, -2:]
                u += 1 - (top2[:, -1] - top2[:, 0])
            heads += 1
        u /= max(heads, 1)
        for k, i in enumerate(keep):
            item = (float(u[k]), -order, ids[i], texts[i], records[i])
            order += 1
            if len(heap) < 5 * n:
                heapq.heappush(heap, item)
            else:
                heapq.heappushpop(heap, item)
    ranked = sorted(heap, reverse=True)
    chosen: list = []
    for item in ranked:
        if len(chosen) >= n:
            break
        if chosen and near_duplicates([item[3]], 0.6, others=[c[3] for c in chosen]):
            continue
        chosen.append(item)
    # every input column kept (the text column named text, an id added when there is none)
    frame = pd.DataFrame([c[4] for c in chosen]).rename(columns={column: "text"})
    frame = frame.map(lambda v: str(v) if isinstance(v, NonText) else v)
    if "id" not in frame.columns:
        frame.insert(0, "id", [c[2] for c in chosen])
    frame["模型把握度"] = [round(1 - c[0], 3) for c in chosen]
    write_worksheet(frame, target, model.taxonomy_, annotator)
    typer.echo(f"已挑出 {len(chosen)} 条模型最没把握的线索（互不近似重复），标注工作表写入 {target}。"
               "标签列已预填模型的判断（可从下拉列表改选）；核对过的行在“已核对”列选“是”。"
               f"完成后运行：{command('train.py')} --add {target}")

