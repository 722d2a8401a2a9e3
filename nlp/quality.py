"""Stage: clue quality at intake. Quality score, missing elements, and the questions to ask.

质量分 (0-100) is the calibrated probability, from the 质量 head, that the clue is worth a
case file. The elements (对象, 时间, 地点, 具体行为, 后果) come from ``nlp.elements``; the
missing ones are what the officer should ask the reporter for.
"""

from __future__ import annotations

from nlp.elements import ELEMENTS, ElementExtractor

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


def assess(text: str, extractor: ElementExtractor) -> dict:
    """Elements found in one normalised text, and the missing ones."""
    found = extractor.extract(text) if text else {k: "" for k in ELEMENTS}
    missing = [k for k in ELEMENTS if not found[k]]
    return {"要素": found, "缺失要素": missing}


def questions(missing: list[str]) -> list[str]:
    return [QUESTIONS[m] for m in missing if m in QUESTIONS]
