"""Fingerprints of a report: canonical text -> shingles -> MinHash signature -> LSH band keys.

Two reports of one matter are told in other words, so the fingerprint is built to survive a
re-telling: the text is normalised (Traditional -> Simplified, NFKC, ...), numbers are written
one way (三月 / 3月 / 2024.3 -> 2024年3月; 两万元 -> 20000元), punctuation and spaces go, and
the shingles are character bigrams of what is left, minus the bigrams nearly every clue has
(the ``common_bigrams`` most frequent ones of the corpus, ``nlp/data/dedupe.toml``). The MinHash is datasketch's (computed for a whole batch at once, same values); the banding
(``bands`` x ``rows``) turns a signature into keys that an index (SQLite or a dict) can look up.
"""

from __future__ import annotations

import re
from functools import lru_cache

import numpy as np

from nlp.normalize import normalize
from nlp.segment import data_path

_DIGIT = {"零": 0, "〇": 0, "○": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
          "八": 8, "九": 9}
_UNIT = {"十": 10, "百": 100, "千": 1000}
_CN_NUM = "零〇○一二两三四五六七八九十百千"
# a Chinese numeral written before a unit of count, time or money
_CN_RUN = re.compile(rf"[{_CN_NUM}]+(?=[万年月日号个户人名元块次天岁家亩趟起周层栋间台辆期])")
_DOTTED_DATE = re.compile(r"\b((?:19|20)\d{2})[./-](\d{1,2})(?:[./-](\d{1,2}))?\b")
_WAN = re.compile(r"(\d+(?:\.\d+)?)万(?=[元块])")
_LEADING_ZERO = re.compile(r"(?<!\d)0+(\d)")
_NOT_WORD = re.compile(r"[^\w]|_", re.UNICODE)


def chinese_number(run: str) -> int | None:
    """二〇二三 -> 2023, 三百二十 -> 320, 十五 -> 15; None for what is not a plain numeral."""
    if all(c in _DIGIT for c in run):  # digit by digit: 二〇二三
        return int("".join(str(_DIGIT[c]) for c in run))
    total, digit = 0, None
    for c in run:
        if c in _DIGIT:
            if digit is not None:
                return None
            digit = _DIGIT[c]
        elif c in _UNIT:
            total += (1 if digit is None else digit) * _UNIT[c]
            digit = None
    return total + (digit or 0)


def canonical(text: str, normalized: bool = False) -> str:
    """Normalised text with one way of writing numbers, without punctuation or spaces
    (``normalized``: the text has been through nlp.normalize already)."""
    text = text if isinstance(text, str) else str(text)
    text = text if normalized else normalize(text)
    text = _CN_RUN.sub(lambda m: str(n) if (n := chinese_number(m.group(0))) is not None else m.group(0), text)

    def dotted(m: re.Match) -> str:
        y, mo, d = m.groups()
        return f"{y}年{int(mo)}月" + (f"{int(d)}日" if d else "")

    text = _DOTTED_DATE.sub(dotted, text)
    text = _WAN.sub(lambda m: f"{round(float(m.group(1)) * 10000)}", text)
    text = _LEADING_ZERO.sub(r"\1", text)
    return _NOT_WORD.sub("", text).lower()


class Fingerprinter:
    """Canonical text, shingles, MinHash signatures and LSH band keys.

    Parameters
    ----------
    num_perm : MinHash permutations (= bands * rows).
    bands, rows : the LSH banding; two reports are candidates when one band agrees.
    common : bigrams left out of the shingles (too common to tell matters apart).
    seed : MinHash seed; every signature in one base must use the same one.
    """

    def __init__(self, bands: int = 20, rows: int = 3, common: frozenset[str] = frozenset(), seed: int = 1):
        self.bands = bands
        self.rows = rows
        self.common = common
        self.seed = seed

    def _common_codes(self) -> np.ndarray:
        """The common bigrams as sorted integer codes (see ``_VectorMinHash._codes``)."""
        if getattr(self, "_codes_of_common", None) is None:
            self._codes_of_common = np.array(sorted((ord(g[0]) << 21) | ord(g[1]) for g in self.common if len(g) == 2),
                                             dtype=np.int64)
        return self._codes_of_common

    @property
    def num_perm(self) -> int:
        return self.bands * self.rows

    def shingles(self, canon: str) -> set[bytes]:
        grams = {canon[i:i + 2] for i in range(len(canon) - 1)} - self.common
        if not grams and canon:
            grams = {canon}
        return {g.encode("utf-8") for g in grams}

    def signatures(self, canons: list[str]) -> np.ndarray:
        """(n, num_perm) uint64 MinHash values; an empty text gets all-max values."""
        return _bulk_minhash(self.num_perm, self.seed).signatures(canons, self)

    def band_keys(self, sigs: np.ndarray) -> np.ndarray:
        """(n, bands) signed 64-bit keys: band number and the band's values mixed together."""
        sigs = np.asarray(sigs, dtype=np.uint64).reshape(len(sigs), self.bands, self.rows)
        with np.errstate(over="ignore"):
            key = np.arange(1, self.bands + 1, dtype=np.uint64)[None, :] * np.uint64(0x9E3779B97F4A7C15)
            for j in range(self.rows):
                key = (key ^ sigs[:, :, j]) * np.uint64(0xBF58476D1CE4E5B9)
                key ^= key >> np.uint64(31)
        return key.view(np.int64)

    @staticmethod
    def jaccard(sig_a: np.ndarray, sigs: np.ndarray) -> np.ndarray:
        """Estimated Jaccard similarity of one signature with each of ``sigs``."""
        return (np.asarray(sigs) == np.asarray(sig_a)[None, :]).mean(axis=1)


def bigram_codes(texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(text number, code) of every character bigram of each text, in order; a code is
    ``first char << 21 | second char`` (a bigram as one integer, the same in every process)."""
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    chars = np.frombuffer("".join(texts).encode("utf-32-le"), dtype=np.uint32).astype(np.int64)
    owner = np.repeat(np.arange(len(texts)), lengths)
    if len(chars) < 2:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    inside = owner[:-1] == owner[1:]
    return owner[:-1][inside], ((chars[:-1] << 21) | chars[1:])[inside]


def distinct_bigrams(owner: np.ndarray, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``bigram_codes`` with each (text, bigram) once, texts in order and codes ascending."""
    pairs = np.sort(owner * (1 << 42) + codes)
    pairs = pairs[np.r_[True, pairs[1:] != pairs[:-1]]] if len(pairs) else pairs
    return pairs >> 42, pairs & ((1 << 42) - 1)


class _VectorMinHash:
    """datasketch's MinHash (scheme affine32, sha1_hash32 of each shingle) for many texts at once.

    The character bigrams of all texts are taken as integer codes in one array operation, each
    distinct bigram is hashed once (and cached), and the permutations and minima run over the
    whole batch instead of one small array a text. The first use checks the result against
    ``MinHash.bulk`` and falls back to it if the two differ (another datasketch version)."""

    cache_limit = 1 << 21  # bigram code -> hash entries kept
    block = 200_000  # shingles permuted at once (bounds the temporary array)

    def __init__(self, num_perm: int, seed: int):
        from datasketch import MinHash

        self.num_perm, self.seed = num_perm, seed
        self.a, self.b = (np.asarray(x, dtype=np.uint32) for x in MinHash(num_perm=num_perm, seed=seed).permutations)
        self.cache: dict[int, int] = {}
        self.checked: bool | None = None

    def signatures(self, canons: list[str], fp: "Fingerprinter") -> np.ndarray:
        if self.checked is None:
            probe = ["青石村低保长期不予答复", "ab", "x", "", "街道街道街道", "某县住建局2023年3月起拖延审批"]
            self.checked = bool(np.array_equal(self._fast(probe, fp), self._library(probe, fp)))
        return self._fast(canons, fp) if self.checked else self._library(canons, fp)

    def _library(self, canons: list[str], fp: "Fingerprinter") -> np.ndarray:
        from datasketch import MinHash

        out = np.full((len(canons), self.num_perm), np.iinfo(np.uint64).max, dtype=np.uint64)
        sets = [fp.shingles(c) for c in canons]
        filled = [i for i, s in enumerate(sets) if s]
        if filled:
            hashes = MinHash.bulk([sets[i] for i in filled], num_perm=self.num_perm, seed=self.seed)
            out[filled] = np.stack([h.hashvalues for h in hashes]).astype(np.uint64)
        return out

    def _codes(self, canons: list[str], fp: "Fingerprinter") -> tuple[np.ndarray, np.ndarray]:
        """(document number, bigram code) of every distinct non-common bigram of each text;
        a code is ``first char << 21 | second char``."""
        doc, codes = bigram_codes(canons)
        common = fp._common_codes()
        if len(common):
            keep = ~np.isin(codes, common)
            codes, doc = codes[keep], doc[keep]
        return distinct_bigrams(doc, codes)

    def _hashes(self, codes: np.ndarray) -> np.ndarray:
        from datasketch.hashfunc import sha1_hash32

        cache = self.cache
        if len(cache) > self.cache_limit:
            cache.clear()
        order = np.argsort(codes, kind="stable")
        ranked = codes[order]
        new = np.r_[True, ranked[1:] != ranked[:-1]] if len(ranked) else np.zeros(0, dtype=bool)
        distinct = ranked[new]
        inverse = np.empty(len(codes), dtype=np.int64)
        inverse[order] = np.cumsum(new) - 1
        for c in distinct.tolist():
            if c not in cache:
                cache[c] = sha1_hash32((chr(c >> 21) + chr(c & 0x1FFFFF)).encode("utf-8"))
        values = np.fromiter(map(cache.__getitem__, distinct.tolist()), dtype=np.uint32, count=len(distinct))
        return values[inverse]

    def _fast(self, canons: list[str], fp: "Fingerprinter") -> np.ndarray:
        out = np.full((len(canons), self.num_perm), np.iinfo(np.uint64).max, dtype=np.uint64)
        doc, codes = self._codes(canons, fp)
        with np.errstate(over="ignore"):
            hv = self._hashes(codes)
            hv = hv ^ (hv >> np.uint32(16))  # MurmurHash3's 32-bit finaliser, as datasketch mixes
            hv = hv * np.uint32(0x85EBCA6B)
            hv = hv ^ (hv >> np.uint32(13))
            hv = hv * np.uint32(0xC2B2AE35)
            hv = hv ^ (hv >> np.uint32(16))
            starts = np.flatnonzero(np.r_[True, doc[1:] != doc[:-1]]) if len(doc) else np.zeros(0, dtype=np.int64)
            ends = np.r_[starts[1:], len(doc)]
            first = 0
            while first < len(starts):  # whole texts per block, at least one
                last = max(int(np.searchsorted(starts, starts[first] + self.block, side="left")), first + 1)
                lo, hi = starts[first], ends[last - 1]
                phv = hv[lo:hi, None] * self.a[None, :] + self.b[None, :]  # wraps mod 2^32 like datasketch
                out[doc[starts[first:last]]] = np.minimum.reduceat(phv, starts[first:last] - lo, axis=0)
                first = last
        # a non-empty text without a usable bigram (one character, or only common bigrams):
        # its whole text is its shingle
        done = np.zeros(len(canons), dtype=bool)
        done[doc[starts]] = True
        rest = [i for i, c in enumerate(canons) if c and not done[i]]
        if rest:
            out[rest] = self._library([canons[i] for i in rest], fp)
        return out


@lru_cache(maxsize=4)
def _bulk_minhash(num_perm: int, seed: int) -> _VectorMinHash:
    return _VectorMinHash(num_perm, seed)


@lru_cache(maxsize=2)
def document_frequencies(path: str | None = None) -> tuple[int, dict]:
    """(number of documents, term -> document frequency) from a ``term<TAB>df`` file whose first
    line is ``#docs<TAB>N``; terms are ``w:word`` and ``c:bigram``. Default: the bundled file,
    counted over the corpus (``python bench/tune_dedupe.py --df`` rebuilds it)."""
    path = path or str(data_path("dedupe_df.tsv"))
    lines = open(path, encoding="utf-8").read().splitlines()
    n = int(lines[0].split("\t")[1])
    return n, {t: int(c) for t, c in (line.split("\t") for line in lines[1:] if "\t" in line)}


@lru_cache(maxsize=4)
def fingerprinter(bands: int, rows: int, common_bigrams: int, seed: int = 1) -> Fingerprinter:
    """The fingerprinter of ``dedupe.toml``'s [fingerprint] table (``fingerprinter(**table)``)."""
    _, df = document_frequencies()
    ranked = sorted(((c, t[2:]) for t, c in df.items() if t.startswith("c:")), reverse=True)
    return Fingerprinter(bands, rows, frozenset(t for _, t in ranked[:common_bigrams]), seed)
