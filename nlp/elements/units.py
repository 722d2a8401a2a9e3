"""The lexicon of unit and post words (``nlp/data/units.txt``): generic words of Chinese
administration that name a responsible unit or post (要素“对象”), whole words ("街道", "县里",
"城管") and suffixes ("*局": 住建局, 某县民政局).

It serves the tagger as a feature (where a lexicon word or a suffix-ended name is) and the 对象
fallback of ``nlp.elements.rules`` (a clue that names a unit the tagger left unlabelled).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

from nlp.segment import data_path

_HAN = "\u4e00-\u9fff"


@dataclass(frozen=True)
class Units:
    """The lexicon; its patterns are built once per instance (``load`` keeps the instance)."""

    words: tuple[str, ...]
    suffixes: tuple[str, ...]

    @classmethod
    @lru_cache(maxsize=4)
    def load(cls, path: str | None = None) -> "Units":
        words, suffixes = [], []
        for line in Path(path or data_path("units.txt")).read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            (suffixes if line.startswith("*") else words).append(line.lstrip("*"))
        # longest first: the alternation takes the first alternative that matches
        return cls(tuple(sorted(set(words), key=len, reverse=True)), tuple(sorted(set(suffixes), key=len, reverse=True)))

    def _alt(self, items) -> str:
        return "|".join(map(re.escape, items)) or "(?!)"

    @cached_property
    def feature_patterns(self) -> tuple[re.Pattern, re.Pattern]:
        """(a lexicon word, a suffix): the tagger learns the name before a suffix itself."""
        return _compiled(self._alt(self.words)), _compiled(self._alt(self.suffixes))

    @cached_property
    def head(self) -> re.Pattern:
        """A unit or post at the start of a piece of text: a lexicon word, or up to ten Chinese
        characters ending with a suffix ("县行政服务中心", "交通厅"); use with ``match``."""
        return _compiled(f"(?:[{_HAN}]{{1,10}}?(?:{self._alt(self.suffixes)})|{self._alt(self.words)})")

    @cached_property
    def whole(self) -> re.Pattern:
        """A piece of text that names a unit or post as a whole (use with ``fullmatch``)."""
        return _compiled(f"(?:[{_HAN}]{{0,16}}(?:{self._alt(self.suffixes)})|[{_HAN}]{{0,8}}(?:{self._alt(self.words)}))")

    @cached_property
    def word(self) -> re.Pattern:
        """A lexicon word (the longest where several begin at one place)."""
        return _compiled(self._alt(self.words))


def _compiled(pattern: str) -> re.Pattern:
    return re.compile(pattern)
