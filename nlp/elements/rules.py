"""Post-processing of tagged element spans; the rules are data (``[rules]`` of ``elements.toml``).

- ends trimmed of punctuation; spans shorter than ``min_chars`` dropped;
- spans that end inside a word dropped (地点“其中区” of “其中区政府”);
- spans whose whole text is a known non-element dropped (时间 durations and vague periods such as
  一个多小时/长期/上班时间, fragments such as 对象“区某”, 地点“请组”, the reporter as 对象);
- 地点 falls back to the county-or-below place name at the start of the 对象 (ELEMENTS.md rule 1);
- 后果 falls back to a clause stating a physical harm or a narrow escape;
- 对象 falls back to a unit or post the tagger labelled otherwise or left out (``units.txt``): a 地点
  that names a unit, the unit that opens an act or harm span, else a lexicon word (where the row-level
  presence model finds a 对象 likely; not after the reporter's side, the addressee or a quantifier).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from nlp.elements.patterns import ELEMENTS, load_rules
from nlp.elements.units import Units

Span = tuple[str, int, int]


@dataclass(frozen=True)
class Rules:
    min_chars: int
    strip: str
    reject: dict[str, re.Pattern | None]
    cut: dict[str, re.Pattern]
    place_from_object: re.Pattern | None
    harm_words: re.Pattern | None
    harm_stops: str = ""
    harm_reach: int = 30
    object_from: tuple[str, ...] = ()
    object_words: bool = False
    units: Units | None = None
    object_presence: float = 0.0
    object_not_after: re.Pattern | None = None
    place_cut: re.Pattern | None = None

    harm_scope = 4000  # characters searched for harm words (like the tagger's max_chars)

    @classmethod
    @lru_cache(maxsize=4)
    def load(cls, path: str | None = None) -> "Rules":
        spec = load_rules(path).get("rules", {})
        reject = {name: (re.compile("|".join(f"(?:{p})" for p in spec.get("reject", {}).get(name, [])))
                         if spec.get("reject", {}).get(name) else None) for name in ELEMENTS}
        cut = {name: re.compile(p) for name, p in spec.get("cut", {}).items() if p}
        place = spec.get("place_from_object", {}).get("pattern")
        place_cut = spec.get("place_from_object", {}).get("cut")
        harm = spec.get("harm_clause", {})
        obj = spec.get("object_fallback", {})
        return cls(int(spec.get("min_chars", 2)), str(spec.get("strip", "")), reject, cut,
                   re.compile(place) if place else None, re.compile(harm["words"]) if harm.get("words") else None,
                   str(harm.get("stops", "")), int(harm.get("reach", 30)), tuple(obj.get("from", ())),
                   bool(obj.get("words", False)), Units.load(_beside(path, obj["units"])) if obj.get("units") else None,
                   float(obj.get("words_presence", 0.0)),
                   re.compile(f"(?:{obj['not_after']})$") if obj.get("not_after") else None,
                   re.compile(place_cut) if place_cut else None)

    def clean(self, text: str, spans: list[Span]) -> list[Span]:
        """Spans kept after trimming and the reject rules, plus the fallbacks, in text order."""
        return self.fallbacks(text, self.trim(text, spans))

    def fallbacks(self, text: str, spans: list[Span], words: bool = True) -> list[Span]:
        """Trimmed spans corrected and completed: harm stated as a 对象 dropped, then the 对象, 后果
        and 地点 fallbacks (``words``: the 对象 lexicon-word fallback may apply)."""
        spans = self.add_object(text, self.drop_harm_objects(text, spans), words)
        return self.add_place(text, self.add_harm(text, spans))

    def add_object(self, text: str, spans: list[Span], words: bool = True) -> list[Span]:
        """With no 对象 span, the first unit or post the tagger put elsewhere: a span of an element in
        ``object_from`` that names a unit ("东渚区行政服务中心" as 地点) becomes the 对象; one that
        opens with a unit ("县里一拖就是大半年") gives its head ("县里"). Else, with ``object_words``,
        a lexicon word outside every span ("，街道一直不管"), not right after ``not_after``."""
        if self.units is None or any(s[0] == "对象" for s in spans):
            return spans
        reject, after = self.reject["对象"], self.object_not_after
        for k, (label, start, end) in enumerate(spans):
            if label not in self.object_from or (after is not None and after.search(text, max(0, start - 4), start)):
                continue
            piece = text[start:end]
            if self.units.whole.fullmatch(piece) and not (reject and reject.fullmatch(piece)):
                return sorted(spans[:k] + [("对象", start, end)] + spans[k + 1:], key=lambda s: (s[1], s[2]))
            m = self.units.head.match(piece)
            if m and self.min_chars <= m.end() < len(piece) and not (reject and reject.fullmatch(m.group(0))):
                rest = (label, start + m.end(), end)
                return sorted(spans[:k] + [("对象", start, start + m.end())] + self.trim(text, [rest]) + spans[k + 1:],
                              key=lambda s: (s[1], s[2]))
        if self.object_words and words:
            for m in self.units.word.finditer(text, 0, self.harm_scope):
                if after is not None and after.search(text, max(0, m.start() - 4), m.start()):
                    continue
                if not any(a < m.end() and m.start() < b for _, a, b in spans):
                    return sorted(spans + [("对象", m.start(), m.end())], key=lambda s: (s[1], s[2]))
        return spans

    def drop_harm_objects(self, text: str, spans: list[Span]) -> list[Span]:
        """A 对象 is a unit, post or person: a span that states a harm ("一名儿童险些坠落") is not one
        (the harm clause then becomes the 后果)."""
        if self.harm_words is None:
            return spans
        return [s for s in spans if s[0] != "对象" or not self.harm_words.search(text, s[1], s[2])]

    def add_harm(self, text: str, spans: list[Span]) -> list[Span]:
        """With no 后果 span: the first clause stating a physical harm or a narrow escape."""
        if self.harm_words is None or any(s[0] == "后果" for s in spans):
            return spans
        taken = [(s[1], s[2]) for s in spans]
        for m in self.harm_words.finditer(text, 0, self.harm_scope):
            start, end = m.span()
            while start > 0 and m.start() - start < self.harm_reach and text[start - 1] not in self.harm_stops:
                start -= 1
            while end < len(text) and end - m.end() < self.harm_reach and text[end] not in self.harm_stops:
                end += 1
            if not any(a < end and start < b for a, b in taken):
                return sorted(spans + [("后果", start, end)], key=lambda s: (s[1], s[2]))
        return spans

    def trim(self, text: str, spans: list[Span]) -> list[Span]:
        """Spans kept after trimming and the reject rules, in text order."""
        out: list[Span] = []
        for label, start, end in spans:
            while start < end and text[start] in self.strip:
                start += 1
            while end > start and text[end - 1] in self.strip:
                end -= 1
            if end - start < self.min_chars:
                continue
            rx = self.reject.get(label)
            if rx is not None and rx.fullmatch(text, start, end):
                continue
            cut = self.cut.get(label)  # the span ends inside a word ("其中区|政府", "副县|长")
            if cut is not None and cut.match(text, end - 1):
                continue
            out.append((label, start, end))
        return sorted(out, key=lambda s: (s[1], s[2]))

    def add_place(self, text: str, spans: list[Span]) -> list[Span]:
        """With no 地点 span: the county-or-below place name at the start of the first 对象."""
        if self.place_from_object is None or any(s[0] == "地点" for s in spans):
            return spans
        obj = next((s for s in spans if s[0] == "对象"), None)
        if obj is None:
            return spans
        m = self.place_from_object.match(text[obj[1]:obj[2]])
        rx, cut = self.reject["地点"], self.place_cut
        if not m or m.end() < self.min_chars or (rx is not None and rx.fullmatch(m.group(0))):
            return spans
        if cut is not None and cut.match(text, obj[1] + m.end() - 1):  # "某县分管副县|长"
            return spans
        return sorted(spans + [("地点", obj[1], obj[1] + m.end())], key=lambda s: (s[1], s[2]))


def _beside(path: str | None, name: str) -> str:
    """A data file named in the pattern file: relative to that file's folder."""
    from pathlib import Path

    from nlp.segment import data_path

    return str(Path(path or data_path("elements.toml")).parent / name)


def texts_of(text: str, spans: list[Span]) -> dict[str, list[str]]:
    """Element -> the distinct span texts, in text order."""
    found: dict[str, list[str]] = {name: [] for name in ELEMENTS}
    for label, start, end in spans:
        piece = text[start:end]
        if piece not in found[label]:
            found[label].append(piece)
    return found
