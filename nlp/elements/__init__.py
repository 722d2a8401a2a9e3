"""Stage: clue elements (要素). Who (对象), when (时间), where (地点), what act (具体行为) and what
harm (后果) a clue states.

- ``tagger.py``: the trained character CRF (BIO), part of every model version;
- ``features.py``: its per-character features (characters, words, POS, the patterns);
- ``patterns.py``: the patterns of ``nlp/data/elements.toml`` and the regex extractor that model
  versions without a tagger still use;
- ``rules.py``: post-processing rules (data in ``elements.toml``);
- ``corpus.py`` / ``evaluate.py``: the annotations (``corpora/elements.jsonl``), training and
  held-out evaluation; ``agreement.py``: agreement of two annotators.
"""

from __future__ import annotations

from nlp.elements.patterns import ELEMENTS, RegexExtractor
from nlp.elements.rules import Rules, texts_of
from nlp.segment import Tokenizer

JOIN = "；"


class ElementExtractor:
    """Find the elements of clues: with the model's trained tagger, else with the patterns.

    Parameters
    ----------
    tokenizer : the Tokenizer whose words and part-of-speech tags are used.
    patterns : path of the element pattern file; default the bundled one.
    tagger : a fitted ``ElementTagger`` (``None``: the regex extractor).
    """

    def __init__(self, tokenizer: Tokenizer, patterns: str | None = None, tagger=None):
        self.tokenizer = tokenizer
        self.patterns = patterns
        self.tagger = tagger

    def spans_many(self, texts: list[str]) -> list[list[tuple[str, int, int]]]:
        """Cleaned (element, start, end) spans of each normalised text (tagger only)."""
        rules = Rules.load(self.patterns)
        return [rules.clean(t, s) for t, s in zip(texts, self.tagger.predict(texts))]

    def found_many(self, texts: list[str]) -> list[dict[str, list[str]]]:
        """Element -> the pieces of text that show it, for each normalised text."""
        if self.tagger is None:
            regex = RegexExtractor(self.tokenizer, self.patterns)
            return [{k: [v] if v else [] for k, v in regex.extract(t).items()} for t in texts]
        return [texts_of(t, s) for t, s in zip(texts, self.spans_many(texts))]

    def extract_many(self, texts: list[str]) -> list[dict[str, str]]:
        """Element -> its pieces joined with "；" ("" when absent), for each normalised text."""
        return [{k: JOIN.join(v) for k, v in f.items()} for f in self.found_many(texts)]

    def extract(self, text: str) -> dict[str, str]:
        return self.extract_many([text])[0]

    def missing(self, text: str) -> list[str]:
        return [k for k, v in self.extract(text).items() if not v]


__all__ = ["ELEMENTS", "ElementExtractor", "RegexExtractor", "JOIN"]
