"""Stage: clue quality at intake. Quality score, missing elements, and the questions to ask.

质量分 (0-100) is the calibrated probability, from the 质量 head, that the clue is worth a
case file. The elements (对象, 时间, 地点, 具体行为, 后果) come from ``nlp.elements``; the
missing ones are what the officer should ask the reporter for.
"""

from __future__ import annotations

import re
import tomllib
from functools import lru_cache

from nlp.elements import ELEMENTS, ElementExtractor
from nlp.segment import data_path

QUESTIONS = {
    "对象": "涉及哪个单位、哪个岗位或哪位工作人员？",
    "时间": "事情发生在什么时候，持续了多久？",
    "地点": "发生在哪个地方（县区、乡镇、村社区、具体场所）？",
    "具体行为": "对方具体做了什么或该做而没做什么？",
    "后果": "造成了什么损失或影响（金额、人数、延误时长等）？",
}


def quality_score(p_good: float) -> int:
    """0-100, higher means more worth a case file."""
    if p_good != p_good:  # NaN
        return 0
    return int(round(100 * min(1.0, max(0.0, float(p_good)))))


# Output column of each element (before 缺失要素).
COLUMNS = {"对象": "被反映对象", "时间": "时间", "地点": "地点", "具体行为": "具体行为", "后果": "后果"}


def assess(text: str, extractor: ElementExtractor) -> dict:
    """Elements found in one normalised text, and the missing ones."""
    return assess_many([text], extractor)[0]


def assess_many(texts: list[str], extractor: ElementExtractor, X=None) -> list[dict]:
    """``assess`` for a batch (the tagger decodes the batch at once); ``X``: the classifier's
    feature rows of the texts, when already computed."""
    found = extractor.extract_many([t or "" for t in texts], X)
    return [{"要素": f, "缺失要素": [k for k in ELEMENTS if not f[k]]} for f in found]


def questions(missing: list[str]) -> list[str]:
    return [QUESTIONS[m] for m in missing if m in QUESTIONS]


_CONTENT = re.compile(r"[^\W_]")  # a letter, digit or CJK character


@lru_cache(maxsize=1)
def gate_settings() -> dict:
    return tomllib.loads(data_path("quality.toml").read_text(encoding="utf-8"))


def gate(text: str, found: dict[str, str], settings: dict | None = None, trained: bool = False) -> str:
    """Why a text cannot be a 合格 clue whatever the model says ("" when it can).

    Evidence first: a fragment (too few characters to hold a fact) or a text with neither a
    responsible 对象 nor a concrete 具体行为 is not checkable (taxonomy.md, 质量 合格). The element
    rule covers texts up to a length where the extractor is reliable enough: longer with the
    trained tagger (``trained``) than with the patterns."""
    s = settings or gate_settings()
    if len(_CONTENT.findall(text[:200])) < s["min_content_chars"]:
        return "文本过短，不构成可核查的线索"
    act = found.get("具体行为", "")
    below = s.get("tagged_element_rule_below_chars", s["element_rule_below_chars"]) if trained \
        else s["element_rule_below_chars"]
    short = below == 0 or len(_CONTENT.findall(text[:max(400, 2 * below)])) < below  # 0: any length
    if short and not found.get("对象") and len(act) < s["min_act_chars"]:
        return "未写明对象，也没有具体行为"
    return ""


def is_bulletin(text: str, settings: dict | None = None) -> bool:
    """A 通报 text (a handled case reported by an office): there is no reporter to ask."""
    s = settings or gate_settings()
    return any(cue in text for cue in s.get("bulletin_cues", ()))
