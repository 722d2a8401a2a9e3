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

import numpy as np

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
    presence : a fitted ``PresenceModel`` deciding whether each element is there at all.
    features : what gives the presence model its rows (the ``ClueClassifier``: ``transform``).
    boost : bias added to an element the presence model judges present but the tagger missed.
    """

    def __init__(self, tokenizer: Tokenizer, patterns: str | None = None, tagger=None, presence=None,
                 features=None, boost: float = 3.0):
        self.tokenizer = tokenizer
        self.patterns = patterns
        self.tagger = tagger
        self.presence = presence
        self.features = features
        self.boost = boost

    def spans_many(self, texts: list[str], X=None) -> list[list[tuple[str, int, int]]]:
        """Cleaned (element, start, end) spans of each normalised text (tagger only). ``X``: the
        classifier's feature rows of the texts, when already computed."""
        rules = Rules.load(self.patterns)
        emitted = self.tagger.emissions(texts)
        spans = [rules.trim(t, s) for t, s in zip(texts, self.tagger.spans_from(*emitted))]
        if self.presence is None or self.features is None or not texts:
            return [rules.fallbacks(t, s) for t, s in zip(texts, spans)]
        X = self.features.transform(texts, normalized=True) if X is None else X
        proba = self.presence.predict_proba(X)
        spans = self._decide(texts, spans, proba, rules, emitted)
        # the lexicon fallback of 对象 only where the row-level view also finds a 对象 likely
        likely = (proba[:, ELEMENTS.index("对象")] >= rules.object_presence).tolist()
        return [rules.fallbacks(t, s, words=w) for t, s, w in zip(texts, spans, likely)]

    def _decide(self, texts, spans, proba, rules, emitted):
        """Drop the spans of elements judged absent; for elements judged present without a span,
        decode those rows again with more bias on them."""
        from nlp.elements.presence import present_matrix
        from nlp.elements.tagger import element_bias

        found = present_matrix(spans)
        keep = self.presence.decide(proba, found)
        spans = [[s for s in sp if keep[i, ELEMENTS.index(s[0])]] for i, sp in enumerate(spans)]
        need = keep & ~found
        rows = np.flatnonzero(need.any(axis=1))
        if len(rows):
            extra = element_bias([self.boost if need[rows, e].any() else 0.0 for e in range(len(ELEMENTS))])
            again = self.tagger.spans_from(*emitted, extra=extra, subset=rows)
            for i, sp in zip(rows.tolist(), again):
                add = [s for s in rules.trim(texts[i], sp) if need[i, ELEMENTS.index(s[0])]]
                spans[i] = sorted(spans[i] + add, key=lambda s: (s[1], s[2]))
        return spans

    def found_many(self, texts: list[str], X=None) -> list[dict[str, list[str]]]:
        """Element -> the pieces of text that show it, for each normalised text."""
        if self.tagger is None:
            regex = RegexExtractor(self.tokenizer, self.patterns)
            return [{k: [v] if v else [] for k, v in regex.extract(t).items()} for t in texts]
        return [texts_of(t, s) for t, s in zip(texts, self.spans_many(texts, X))]

    def extract_many(self, texts: list[str], X=None) -> list[dict[str, str]]:
        """Element -> its pieces joined with "；" ("" when absent), for each normalised text."""
        return [{k: JOIN.join(v) for k, v in f.items()} for f in self.found_many(texts, X)]

    def extract(self, text: str) -> dict[str, str]:
        return self.extract_many([text])[0]

    def missing(self, text: str) -> list[str]:
        return [k for k, v in self.extract(text).items() if not v]


__all__ = ["ELEMENTS", "ElementExtractor", "RegexExtractor", "JOIN"]
