"""Per-character features of the element tagger, built for a whole batch at once with numpy.

Each character gets one integer key per template (the character, its neighbours, character
bigrams, its character classes, its word's boundary position B/M/E/S, the word's and its
neighbours' part-of-speech tags from :class:`nlp.segment.Tokenizer`, the word itself, and
whether each pattern of ``nlp/data/elements.toml`` begins or continues there, and whether a word of
the unit lexicon ``nlp/data/units.txt`` does). Keys are hashed
into ``2**bits`` buckets: the CRF learns a weight row per bucket, and inference is a gather.

The texts of a batch are joined with ``SEP`` (two "。"), which no pattern or word crosses, and a
window of two characters sees it at both ends of every text: a text gets the same features
whatever batch it is in. Every step is linear in the length of the text.
"""

from __future__ import annotations

from operator import itemgetter

import numpy as np

from nlp.elements.patterns import ELEMENTS, feature_patterns
from nlp.elements.units import Units
from nlp.segment import Tokenizer

SEP = "。。"
_MULT = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing
POS_TAGS = ("a", "ad", "ag", "an", "b", "c", "d", "df", "dg", "e", "eng", "f", "g", "h", "i", "j", "k", "l",
            "m", "mg", "mq", "n", "ng", "nr", "nrfg", "nrt", "ns", "nt", "nz", "o", "p", "q", "r", "rg", "rr",
            "rz", "s", "t", "tg", "u", "ud", "ug", "uj", "ul", "uv", "uz", "v", "vd", "vg", "vi", "vn", "vq",
            "x", "y", "z", "zg")
_POS_ID = {t: i + 1 for i, t in enumerate(POS_TAGS)}


class _PosIds(dict):
    def __missing__(self, tag):  # a tag not in POS_TAGS
        return 0


_POS_LOOKUP = _PosIds(_POS_ID)
_NUMERALS = np.array([ord(c) for c in "〇零一二三四五六七八九十百千万两半几"], dtype=np.int64)
_PUNCT = np.array([ord(c) for c in "，。、；：？！“”‘’（）《》【】…—,.;:?!\"'()[]-~·"], dtype=np.int64)
BASE_TEMPLATES = ("U0", "U-1", "U+1", "U-2", "U+2", "B-1", "B0", "B-2", "B+1", "CLS", "BMES", "POS", "POS-1",
                  "POS+1", "WORD")


def char_class(cp: np.ndarray) -> np.ndarray:
    """0 other, 1 Chinese character, 2 digit, 3 Chinese numeral, 4 Latin letter, 5 punctuation, 6 space."""
    cls = np.zeros(len(cp), dtype=np.int64)
    cls[(cp >= 0x4E00) & (cp <= 0x9FFF) | (cp >= 0x3400) & (cp <= 0x4DBF)] = 1
    cls[(cp >= 48) & (cp <= 57)] = 2
    cls[np.isin(cp, _NUMERALS)] = 3
    cls[(cp >= 65) & (cp <= 90) | (cp >= 97) & (cp <= 122)] = 4
    cls[np.isin(cp, _PUNCT)] = 5
    cls[(cp == 32) | (cp == 10)] = 6
    return cls


class CharFeatures:
    """Hashed feature buckets for every character of a batch of (normalised) texts.

    Parameters
    ----------
    tokenizer : the Tokenizer giving words and part-of-speech tags.
    patterns : path of the element pattern file; default the bundled one.
    bits : log2 of the number of hash buckets.
    max_chars : characters of each text that are tagged (elements come early; keeps a
        100k-character text cheap).
    units : path of the unit lexicon (a feature column); ``None``: none (the features of model
        versions trained before the lexicon).
    """

    def __init__(self, tokenizer: Tokenizer, patterns: str | None = None, bits: int = 18, max_chars: int = 4000,
                 units: str | None = None):
        self.tokenizer = tokenizer
        self.patterns = patterns
        self.bits = bits
        self.max_chars = max_chars
        self.units = units

    @property
    def none_bucket(self) -> int:
        """The bucket of an absent feature (a pattern that does not match): weight zero."""
        return 1 << self.bits

    def template_names(self) -> list[str]:
        present = {name for name, _ in feature_patterns(self.patterns)}
        lexicon = ["units"] if getattr(self, "units", None) else []
        return list(BASE_TEMPLATES) + [f"patterns:{name}" for name in ELEMENTS if name in present] + lexicon

    def transform(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(buckets [characters x templates], start row of each text, length of each text).

        Rows are the characters of the texts, in order, each text cut at ``max_chars``."""
        texts = [t[: self.max_chars] for t in texts]
        lens = np.array([len(t) for t in texts], dtype=np.int64)
        joined = SEP + SEP.join(texts) + SEP
        cp = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
        n, gap = len(cp), len(SEP)
        begin = gap + np.concatenate([[0], np.cumsum(lens + gap)[:-1]]) if len(texts) else np.zeros(0, np.int64)
        cover = np.zeros(n + 1, dtype=np.int64)
        np.add.at(cover, begin, 1)
        np.add.at(cover, begin + lens, -1)
        keep = np.flatnonzero(np.cumsum(cover[:-1]) > 0)
        cols = self._columns(joined, cp)
        buckets = np.empty((len(keep), len(cols)), dtype=np.int32)
        shift = np.uint64(64 - self.bits)
        for t, col in enumerate(cols):
            v = col[keep]
            key = (np.uint64(t + 1) << np.uint64(50)) | v.astype(np.uint64)
            b = ((key * _MULT) >> shift).astype(np.int32)
            b[v == 0] = self.none_bucket  # value 0: the feature is absent
            buckets[:, t] = b
        rows = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64) if len(texts) else lens
        return buckets, rows, lens

    # ------------------------------------------------------------------
    def _columns(self, joined: str, cp: np.ndarray) -> list[np.ndarray]:
        n = len(cp)

        def shift(a: np.ndarray, k: int, fill: int) -> np.ndarray:
            out = np.full(n, fill, dtype=np.int64)
            if k > 0:
                out[k:] = a[:-k]
            else:
                out[:k] = a[-k:]
            return out

        p1, p2, n1, n2 = shift(cp, 1, 1), shift(cp, 2, 1), shift(cp, -1, 2), shift(cp, -2, 2)
        cls = char_class(cp)
        cls3 = shift(cls, 1, 7) * 64 + cls * 8 + shift(cls, -1, 7) + 1
        bmes, pos, pos_prev, pos_next, word = self._words(joined, cp)
        cols = [cp, p1, n1, p2, n2, (p1 << 21) | cp, (cp << 21) | n1, (p2 << 21) | p1, (n1 << 21) | n2, cls3,
                bmes + 1, pos * 4 + bmes + 1, pos_prev + 1, pos_next + 1, word + 1]
        # one column per element: which of its patterns begins (2k+1) or continues (2k+2) here,
        # the first pattern in file order winning where several match
        matched: dict[str, list] = {}
        for name, rx in feature_patterns(self.patterns):
            hits = matched.setdefault(name, [])
            hits.append(_spans(rx, joined))
        cols += [_element_column(matched[name], n) for name in ELEMENTS if name in matched]
        if getattr(self, "units", None):  # absent in the features of older model versions
            cols.append(_element_column([_spans(rx, joined) for rx in Units.load(self.units).feature_patterns], n))
        return cols

    def _words(self, joined: str, cp: np.ndarray):
        """Per character: B/M/E/S position in its word, the word's POS, its neighbours' POS and
        a word identity (first character, last character, length: no per-word hashing)."""
        n = len(cp)
        tags = self.tokenizer.tag(joined)
        wl = np.fromiter(map(len, map(itemgetter(0), tags)), dtype=np.int64, count=len(tags))
        if int(wl.sum()) != n:  # a segmenter that drops characters: fall back to single characters
            tags = [(c, "x") for c in joined]
            wl = np.ones(n, dtype=np.int64)
        wp = np.fromiter(map(_POS_LOOKUP.__getitem__, map(itemgetter(1), tags)), dtype=np.int64, count=len(tags))
        ends = np.cumsum(wl)
        starts = ends - wl
        wh = (cp[starts] << 26) | (cp[ends - 1] << 5) | np.minimum(wl, 31)
        inside = np.arange(n) - np.repeat(starts, wl)
        length = np.repeat(wl, wl)
        bmes = np.where(length == 1, 3, np.where(inside == 0, 0, np.where(inside == length - 1, 2, 1)))
        prev_p = np.concatenate([[0], wp[:-1]])
        next_p = np.concatenate([wp[1:], [0]])
        return bmes, np.repeat(wp, wl), np.repeat(prev_p, wl), np.repeat(next_p, wl), np.repeat(wh, wl)


def _spans(rx, joined: str) -> np.ndarray:
    """[matches x 2] start and end of the non-empty matches of ``rx``."""
    flat = [i for m in rx.finditer(joined) for i in m.span()]
    out = np.array(flat, dtype=np.int64).reshape(-1, 2)
    return out[out[:, 1] > out[:, 0]]


def _element_column(per_pattern: list[np.ndarray], n: int) -> np.ndarray:
    """One element's column from the matches of each of its patterns (in file order): 2k+1 where
    a match of pattern k begins, 2k+2 inside it, 0 elsewhere; where several patterns cover a
    character, the first of them. Work in proportion to the matched characters, not the text."""
    col = np.zeros(n, dtype=np.int64)
    for k in range(len(per_pattern) - 1, -1, -1):  # the last pattern first: earlier ones overwrite
        sp = per_pattern[k]
        if not len(sp):
            continue
        width = sp[:, 1] - sp[:, 0]
        at = np.repeat(sp[:, 0] - np.cumsum(np.concatenate([[0], width[:-1]])), width) + np.arange(int(width.sum()))
        first = np.zeros(len(at), dtype=bool)
        first[np.cumsum(np.concatenate([[0], width[:-1]]))] = True
        col[at] = np.where(first, 2 * k + 1, 2 * k + 2)
    return col
