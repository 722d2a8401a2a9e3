"""Stage: long texts. Split a bulletin into its numbered cases, a policy document into paragraphs.

A long 通报 often lists several cases (一、二、… or 1. 2. …); each gets its own labels.
Any other long text (a plan, a speech) is broken into paragraphs, so it is never reduced
to its first sentence or to one muddled label.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Numbered item markers at the start of a line (or after a sentence end for inline lists).
_CN = "一二三四五六七八九十"
_MARK = re.compile(
    rf"(?:^|(?<=\n)|(?<=[。；;!！?？]))\s*"
    rf"(?:[{_CN}]{{1,3}}[、.．]|\(?[{_CN}]{{1,3}}\)|\d{{1,2}}[、.．](?!\d)|\(\d{{1,2}}\)|[①-⑳])"
)
# Words that mark a reported case rather than a directive.
_CASE_HINT = re.compile(r"(经查|处分|问责|诫勉|警告|记过|撤职|免职|通报批评|立案|[\u4e00-\u9fff][某Xx×]{1,2})")

KIND_CLUE = "线索"
KIND_CASE = "通报案例"
KIND_PARAGRAPH = "文件段落"


@dataclass
class Segment:
    number: int  # 1-based
    text: str
    kind: str


def split_document(text: str, min_length: int = 300, max_segments: int = 200) -> list[Segment]:
    """Split a normalised text. Short texts, or texts with no structure, stay whole.

    Numbered cases are split from ``min_length // 3`` characters on (a bulletin of three short
    cases is short); paragraphs only from ``min_length``.
    """
    if len(text) < min_length // 3:
        return [Segment(0, text, KIND_CLUE)]
    items = _numbered_items(text)
    if len(items) >= 2 and sum(bool(_CASE_HINT.search(t)) for t in items) >= max(2, len(items) // 2):
        return [Segment(i + 1, t, KIND_CASE) for i, t in enumerate(_cap(items, max_segments))]
    if len(text) < min_length:
        return [Segment(0, text, KIND_CLUE)]
    paragraphs = [p.strip() for p in text.split("\n") if len(p.strip()) >= 2]
    if len(paragraphs) < 2:
        # one long paragraph: fall back to sentence groups of about min_length characters
        paragraphs = _sentence_groups(text, min_length)
    if len(paragraphs) < 2:
        return [Segment(0, text, KIND_CLUE)]
    merged = _cap(_merge_headings(paragraphs), max_segments)
    return [Segment(i + 1, p, KIND_PARAGRAPH) for i, p in enumerate(merged)]


def _cap(parts: list[str], most: int) -> list[str]:
    """At most ``most`` parts: beyond that, neighbours are joined into even groups (no text is
    ever dropped)."""
    if len(parts) <= most:
        return parts
    size = -(-len(parts) // most)  # ceil
    return ["\n".join(parts[i:i + size]) for i in range(0, len(parts), size)]


def _numbered_items(text: str) -> list[str]:
    starts = [m.start() for m in _MARK.finditer(text)]
    if len(starts) < 2:
        return []
    items = []
    for a, b in zip(starts, starts[1:] + [len(text)]):
        item = text[a:b].strip()
        if len(item) >= 15:
            items.append(item)
    # The preamble before the first item is context, not a case.
    return items


def _sentence_groups(text: str, size: int) -> list[str]:
    sentences = [s for s in re.split(r"(?<=[。！？!?；;])", text) if s.strip()]
    groups, cur = [], ""
    for s in sentences:
        cur += s
        if len(cur) >= size:
            groups.append(cur.strip())
            cur = ""
    if cur.strip():
        groups.append(cur.strip())
    return groups


def _merge_headings(paragraphs: list[str]) -> list[str]:
    """Attach short heading lines (no sentence end) to the paragraph that follows."""
    out: list[str] = []
    carry = ""
    for p in paragraphs:
        if len(p) < 30 and not re.search(r"[。！？!?]$", p):
            carry = (carry + " " + p).strip()
            continue
        out.append((carry + " " + p).strip() if carry else p)
        carry = ""
    if carry:
        out.append(carry)
    return out
