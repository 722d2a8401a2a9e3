"""The element patterns of ``nlp/data/elements.toml``: regular expressions over the normalised
text plus jieba part-of-speech tags.

They serve twice: as features of the trained tagger (``nlp.elements.features``), and as the
regex extractor the tagger is measured against (and used by model versions without a tagger).
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from nlp.segment import Tokenizer, data_path

ELEMENTS = ("对象", "时间", "地点", "具体行为", "后果")


@lru_cache(maxsize=4)
def load_rules(path: str | None = None) -> dict:
    """The whole pattern file (element tables and the post-processing ``[rules]``)."""
    return tomllib.loads(Path(path or data_path("elements.toml")).read_text(encoding="utf-8"))


@lru_cache(maxsize=4)
def _load(path: str) -> tuple[tuple[str, tuple[re.Pattern, ...], frozenset[str], frozenset[str]], ...]:
    data = load_rules(path)
    out = []
    for name in ELEMENTS:
        spec = data.get(name, {})
        patterns = tuple(re.compile(p) for p in spec.get("patterns", []))
        out.append((name, patterns, frozenset(spec.get("pos", [])), frozenset(spec.get("vague", []))))
    return tuple(out)


@lru_cache(maxsize=4)
def feature_patterns(path: str | None = None) -> tuple[tuple[str, re.Pattern], ...]:
    """(element, pattern) for the tagger's features: each element's ``feature_patterns`` where
    given, else its ``patterns``, in file order."""
    data = load_rules(path)
    return tuple((name, re.compile(p)) for name in ELEMENTS
                 for p in data.get(name, {}).get("feature_patterns", data.get(name, {}).get("patterns", [])))


@dataclass
class RegexExtractor:
    """The pattern extractor: the first pattern match (or tagged word) per element.

    Parameters
    ----------
    tokenizer : the Tokenizer whose part-of-speech tags are used.
    patterns : path of the element pattern file; default the bundled one.
    """

    tokenizer: Tokenizer
    patterns: str | None = None

    def extract(self, text: str, only: tuple[str, ...] | None = None) -> dict[str, str]:
        """Element name -> the first piece of text that shows it ("" when absent); ``only``: look
        for these elements alone (the others stay "")."""
        rules = self.__dict__.get("_rules")
        if rules is None:
            rules = self.__dict__["_rules"] = _load(str(self.patterns or data_path("elements.toml")))
        found = {name: "" for name in ELEMENTS}
        tags = None
        for name, patterns, pos, vague in rules:
            if only is not None and name not in only:
                continue
            for rx in patterns:  # in file order: the first pattern that matches gives the text
                m = rx.search(text)
                if m:
                    found[name] = m.group(0)
                    break
            if found[name]:
                continue
            if pos:
                if tags is None:
                    # Tag only the first few thousand characters: elements come early.
                    tags = self.tokenizer.tag(text[:4000])
                for word, flag in tags:
                    if flag in pos and word not in vague and (len(word) > 1 or flag.startswith("v")):
                        found[name] = word
                        break
        return found
