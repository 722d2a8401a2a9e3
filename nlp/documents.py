"""Stage: long texts. Split a bulletin into its numbered cases, a policy document into paragraphs.

A long 通报 often lists several cases (一、二、… or 1. 2. …); each gets its own labels.
Any other long text (a plan, a speech) is broken into paragraphs, so it is never reduced
to its first sentence or to one muddled label.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Numbered item markers: at the start of the text or a line, or inline after a sentence end or
# a clause mark (``通报3起：（一）…（二）…``). Full-width and half-width forms are both accepted so
# that the same split can be found in the original (not normalised) text. Only a run of
# consecutive numbers (一, 二, 三 or 1, 2, 3) counts, so "3.5万元" or "2023.5" never split.
_CN = "一二三四五六七八九十"
_MARK = re.compile(
    rf"(?:^|(?<=[\n。；;!！?？：:，,]))[^\S\n]*"
    rf"(?:(?P<cd>[{_CN}]{{1,3}})[、.．]"
    rf"|[(（]?(?P<cp>[{_CN}]{{1,3}})[)）]"
    rf"|(?<!\d)(?P<nd>\d{{1,2}})[、.．](?!\d)"
    rf"|[(（](?P<np>\d{{1,2}})[)）]"
    rf"|(?P<ci>[①-⑳]))"
)
_MIN_ITEM = 15
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


def _cn_value(word: str) -> int:
    digits = {c: i + 1 for i, c in enumerate(_CN)}
    if word == "十":
        return 10
    if word.startswith("十"):
        return 10 + digits.get(word[1:], 0)
    if "十" in word:
        tens, _, ones = word.partition("十")
        return digits.get(tens, 0) * 10 + (digits.get(ones, 0) if ones else 0)
    return digits.get(word, 0) if len(word) == 1 else 0


def _case_starts(text: str) -> list[int]:
    """Start offsets of the longest run of consecutively numbered items of one marker style."""
    by_style: dict[str, list[tuple[int, int]]] = {}
    for m in _MARK.finditer(text):
        style = m.lastgroup
        word = m.group(style)
        if style in ("cd", "cp"):
            value = _cn_value(word)
        elif style == "ci":
            value = ord(word) - ord("①") + 1
        else:
            value = int(word)
        if value:
            by_style.setdefault(style, []).append((value, m.start()))
    best: list[int] = []
    for marks in by_style.values():
        chain: list[int] = []
        want = 1
        for value, start in marks:
            if value == want:
                chain.append(start)
                want += 1
        if len(chain) > len(best) or (len(chain) == len(best) and chain and chain[0] < best[0]):
            best = chain
    return best if len(best) >= 2 else []


def _numbered_items(text: str) -> list[str]:
    """Exact, contiguous slices of ``text``: ``"".join(items) == text``.

    The preamble before the first item is kept on the first item; an item shorter than
    ``_MIN_ITEM`` characters is merged into its neighbour (never dropped).
    """
    starts = _case_starts(text)
    if not starts:
        return []
    bounds = [0] + starts[1:] + [len(text)]
    items = [text[a:b] for a, b in zip(bounds, bounds[1:])]
    merged: list[str] = []
    for item in items:
        if merged and len(item.strip()) < _MIN_ITEM:
            merged[-1] += item
        else:
            merged.append(item)
    if len(merged) >= 2 and len(merged[0].strip()) < _MIN_ITEM:
        merged[1] = merged[0] + merged[1]
        merged.pop(0)
    assert "".join(merged) == text
    return merged if len(merged) >= 2 else []


def original_case_texts(raw: str, parts: list[str], normalize) -> list[str] | None:
    """The case parts as spans of the original text ``raw`` (full-width punctuation kept).

    The same split is computed on ``raw``; it is used only if every raw part normalises to the
    corresponding normalised part, else None (callers then show the normalised parts).
    """
    raw = raw.replace("\r\n", "\n").replace("\r", "\n")
    raw_parts = _numbered_items(raw)
    if len(raw_parts) != len(parts):
        return None
    if any(normalize(r) != normalize(p) for r, p in zip(raw_parts, parts)):
        return None
    return raw_parts


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
