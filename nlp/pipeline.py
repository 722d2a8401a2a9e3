"""The whole flow for a batch of texts: normalise -> split long texts -> heads -> quality -> evidence.

``Annotator`` is what classify.py runs in each worker process; it holds a fitted
``ClueClassifier`` and turns a chunk of input rows into output rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from nlp.documents import KIND_CASE, KIND_CLUE, KIND_PARAGRAPH, original_case_texts, split_document
from nlp.elements import ElementExtractor
from nlp.model import ClueClassifier
from nlp.normalize import normalize, replace_surrogates
from nlp.quality import COLUMNS, assess_many, gate, gate_settings, quality_score
from nlp.taxonomy import GOOD, LOW, QUALITY, REASON

CASE_NO = "案例序号"
KIND = "文本类型"
SCORE = "质量分"
MISSING = "缺失要素"
EVIDENCE = "依据"
SUMMARY_KIND = "文件汇总"
EMPTY_REASON = "空泛"


@dataclass
class Annotator:
    model: ClueClassifier
    split_cases: bool = True
    min_split_length: int = 300
    names: bool = False
    extractor: ElementExtractor = field(init=False)

    def __post_init__(self):
        m = self.model
        self.extractor = ElementExtractor(m.tokenizer_, tagger=getattr(m, "element_tagger_", None),
                                          presence=getattr(m, "element_presence_", None), features=m)

    @property
    def schemes(self) -> list[str]:
        return list(self.model.schemes_)

    def warm_up(self) -> "Annotator":
        """Build every lazily built table now (before forking workers, so they share them)."""
        self.model.warm_up()
        self.annotate_texts(["某县民政局2023年3月起对低保申请长期不予答复，造成群众多次白跑。"])
        return self

    # ------------------------------------------------------------------
    def annotate_texts(self, texts: list[str]) -> pd.DataFrame:
        """One output row per text, no splitting (normalised inside)."""
        norm = [normalize(t) for t in texts]
        return self._label(norm, [KIND_CLUE] * len(norm))

    def annotate(self, frame: pd.DataFrame, text_column: str) -> pd.DataFrame:
        """Output rows for input rows: the input columns, then the labels.

        Long texts become several rows (one per case or paragraph, plus a summary row for a
        document); their input columns are repeated and 案例序号 numbers the parts.
        """
        norm_parts: list[str] = []
        kinds: list[str] = []
        owner: list[int] = []
        numbers: list[str] = []
        shown: list[str] = []  # the text shown for a part: original characters where possible
        for i, raw in enumerate(frame[text_column].tolist()):
            raw = replace_surrogates(raw if isinstance(raw, str) else str(raw))
            text = normalize(raw)
            segments = split_document(text, self.min_split_length) if self.split_cases else None
            if not segments or len(segments) == 1:
                norm_parts.append(text)
                kinds.append(KIND_CLUE)
                owner.append(i)
                numbers.append("")
                shown.append(text)
                continue
            cases = [s.text for s in segments if s.kind == KIND_CASE]
            original = None
            if cases and len(cases) == len(segments) and isinstance(raw, str):
                original = original_case_texts(raw, cases, normalize)
            shown.extend(original if original is not None else [s.text for s in segments])
            for seg in segments:
                norm_parts.append(seg.text)
                kinds.append(seg.kind)
                owner.append(i)
                numbers.append(str(seg.number))
        labels = self._label(norm_parts, kinds)
        labels.insert(0, KIND, kinds)
        labels.insert(0, CASE_NO, numbers)
        labels["_part"] = shown
        labels = self._add_document_summaries(labels, owner)
        base = frame.iloc[labels.pop("_owner").to_numpy()].reset_index(drop=True)
        for c in base.columns:
            if base[c].dtype == object or pd.api.types.is_string_dtype(base[c]):
                base[c] = [replace_surrogates(v) if isinstance(v, str) else v if isinstance(v, (int, float)) else
                           replace_surrogates(str(v)) for v in base[c].tolist()]
        # A case or paragraph row shows its own text; the whole text stays on the 全文 row (a
        # bulletin's cases, joined, are the bulletin): a long text is never copied onto every part.
        part = labels.pop("_part").tolist()
        split = (labels[CASE_NO] != "") & (labels[CASE_NO] != "全文")
        if split.any():
            texts = base[text_column].tolist()
            base[text_column] = [p if s else t for p, s, t in zip(part, split.tolist(), texts)]
        # an input column named like an output column (时间, 地点, 质量 ...) is kept, renamed
        base = base.rename(columns={c: f"{c}（输入）" for c in base.columns if c in labels.columns})
        return pd.concat([base, labels.reset_index(drop=True)], axis=1)

    # ------------------------------------------------------------------
    def _label(self, norm: list[str], kinds: list[str]) -> pd.DataFrame:
        n = len(norm)
        empty = np.array([not t.strip() for t in norm], dtype=bool)
        X = self.model.transform(norm, normalized=True)
        probs = self.model.predict_proba(norm, normalized=True, X=X)
        ungated = np.array([k == KIND_PARAGRAPH for k in kinds], dtype=bool)
        pred = self.model.predict(norm, normalized=True, X=X, probs=probs, ungated=ungated)
        quality_codes = self.model.taxonomy_[QUALITY].code_list
        p_good = probs[QUALITY][:, quality_codes.index(GOOD)] if QUALITY in probs else np.full(n, np.nan)
        scores = [quality_score(p) for p in p_good]
        explained = self.model.explain(X, pred)
        qualities = pred[QUALITY].tolist() if QUALITY in pred.columns else [""] * n
        assessed = assess_many(norm, self.extractor, X)
        missing = ["、".join(a["缺失要素"]) for a in assessed]
        evidence = [self._evidence_text(e, q) for e, q in zip(explained, qualities)]
        pred.insert(pred.columns.get_loc(REASON) + 1 if REASON in pred.columns else 0, SCORE, scores)
        for k, (name, column) in enumerate(COLUMNS.items()):  # the elements, then 缺失要素
            pred.insert(pred.columns.get_loc(SCORE) + 1 + k, column, [a["要素"][name] for a in assessed])
        pred.insert(pred.columns.get_loc(SCORE) + 1 + len(COLUMNS), MISSING, missing)
        pred[EVIDENCE] = evidence
        self._apply_gate(pred, norm, assessed, ungated | empty)
        if empty.any():  # empty cells: low quality, vague, nothing else
            for sid in self.schemes:
                if sid not in (QUALITY, REASON):
                    pred.loc[empty, sid] = ""
                pred.loc[empty, f"{sid}置信度"] = 1.0 if sid in (QUALITY, REASON) else np.nan
            pred.loc[empty, QUALITY] = LOW
            pred.loc[empty, REASON] = EMPTY_REASON
            pred.loc[empty, SCORE] = 0
            pred.loc[empty, EVIDENCE] = "文本为空"
        if self.names:  # a name column right after each code column whose names say more than the code
            tax = self.model.taxonomy_
            for sid in self.schemes:
                scheme = tax[sid]
                if sid == QUALITY or all(c.name.startswith(c.code) and "：" not in c.name for c in scheme.codes):
                    continue
                pred.insert(pred.columns.get_loc(sid) + 1, f"{sid}名称",
                            ["|".join(scheme.name_of(c) for c in scheme.parse(v)) for v in pred[sid]])
        return pred

    def _apply_gate(self, pred: pd.DataFrame, norm: list[str], assessed: list[dict], skip: np.ndarray) -> None:
        """The evidence gate (nlp/quality.py): rows the model calls 合格 that have too little
        content, or neither 对象 nor 具体行为, become 低质 with a low 质量分 and the reason why."""
        if QUALITY not in pred.columns:
            return
        settings = gate_settings()
        trained = self.extractor.tagger is not None
        why = [gate(t, a["要素"], settings, trained) if not s else ""
               for t, a, s in zip(norm, assessed, skip.tolist())]
        gated = np.array([bool(w) for w in why], dtype=bool)
        if not gated.any():
            return
        # every gated row gets a low score; rows the model already calls 低质 keep their reason
        pred.loc[gated, SCORE] = np.minimum(pred.loc[gated, SCORE].astype(int), settings["max_gated_score"])
        hit = gated & (pred[QUALITY] == GOOD).to_numpy()
        if not hit.any():
            return
        for sid in self.schemes:
            if sid not in (QUALITY, REASON, SCORE):
                pred.loc[hit, sid] = ""
                pred.loc[hit, f"{sid}置信度"] = np.nan
        pred.loc[hit, QUALITY] = LOW
        if REASON in pred.columns:
            pred.loc[hit, REASON] = settings["reason"]
            pred.loc[hit, f"{REASON}置信度"] = 1.0
        pred.loc[hit, EVIDENCE] = [f"要素不足：{w}" for w in np.array(why, dtype=object)[hit]]

    def _evidence_text(self, explained: dict[str, list[str]], quality: str) -> str:
        parts = []
        for sid, words in explained.items():
            if sid == QUALITY and quality == LOW:
                continue  # the reason head says more
            parts.append(f"{sid}：{'、'.join(words)}")
        return "；".join(parts)

    def _add_document_summaries(self, labels: pd.DataFrame, owner: list[int]) -> pd.DataFrame:
        """A 全文 summary row after the paragraphs of each policy document (one concat, one sort)."""
        labels = labels.copy()
        labels["_owner"] = owner
        owners = np.asarray(owner)
        docs = sorted(set(owners[labels[KIND].to_numpy() == KIND_PARAGRAPH].tolist()))
        if not docs:
            return labels
        order = np.arange(len(labels), dtype=float)
        summaries, places = [], []
        for doc in docs:
            rows = np.flatnonzero(owners == doc)
            summaries.append(self._summary_row(labels.iloc[rows], doc))
            places.append(rows[-1] + 0.5)  # right after the document's last paragraph
        merged = pd.concat([labels, pd.DataFrame(summaries, columns=labels.columns)], ignore_index=True)
        position = np.concatenate([order, np.asarray(places, dtype=float)])
        return merged.iloc[np.argsort(position, kind="stable")].reset_index(drop=True)

    def _summary_row(self, group: pd.DataFrame, doc: int) -> dict:
        row = {c: "" for c in group.columns}
        row.update({"_owner": doc, CASE_NO: "全文", KIND: SUMMARY_KIND})
        notes = []
        tax = self.model.taxonomy_
        for sid in self.schemes:
            if sid in (QUALITY, REASON):
                continue
            counts: dict[str, int] = {}
            for v in group[sid]:
                for c in tax[sid].parse(v):
                    counts[c] = counts.get(c, 0) + 1
            ranked = sorted(counts.items(), key=lambda kv: (-kv[1], tax[sid].code_list.index(kv[0])))
            if tax[sid].multi:
                row[sid] = "|".join(c for c in tax[sid].code_list if c in counts)
            elif ranked:
                row[sid] = ranked[0][0]
            if ranked:
                notes.append(f"{sid}：" + "、".join(f"{c}({k}段)" for c, k in ranked[:5]))
        good = (group[QUALITY] == GOOD).sum()
        row[QUALITY] = GOOD if good else LOW
        row[SCORE] = int(group[SCORE].max()) if len(group) else 0
        row[EVIDENCE] = f"共 {len(group)} 段；" + "；".join(notes)
        return row
