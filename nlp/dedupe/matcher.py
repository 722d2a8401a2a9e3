"""Repeat reports within a batch: candidates from LSH buckets, verified pairs, groups.

``Matcher`` works on what the fingerprints keep: a (n, num_perm) signature array for the whole
batch (64 integers a report) gives the candidate pairs; only the reports in a candidate pair
are then read again for verification. Groups (重复组) are the connected components of the
verified pairs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from nlp.dedupe import settings
from nlp.dedupe.fingerprint import Fingerprinter, canonical, fingerprinter
from nlp.dedupe.verify import Doc, Verifier


@dataclass
class Matcher:
    """Candidate search and verification with the settings of ``nlp/data/dedupe.toml``."""

    fingerprinter: Fingerprinter
    verifier: Verifier
    min_bands: int = 2
    verify_top: int = 40
    bucket_limit: int = 200  # a bucket larger than this is a bigram too common to tell matters apart
    verify_block: int = 100_000  # pairs scored at once (bounds the memory of the sparse products)
    parallel_pairs: int = 20_000  # fewer pairs than twice this: scored in this process
    scores: dict = field(default_factory=dict, repr=False)  # of the last ``verify``

    @classmethod
    def default(cls, tokenizer=None, extractor=None) -> "Matcher":
        from nlp.elements import ElementExtractor
        from nlp.segment import Tokenizer

        s = settings()
        tokenizer = tokenizer or Tokenizer()
        extractor = extractor or ElementExtractor(tokenizer)
        verifier = Verifier(tokenizer, extractor, **s["verify"])
        return cls(fingerprinter(**s["fingerprint"]), verifier, s["search"]["min_bands"], s["search"]["verify_top"],
                   s["search"]["bucket_limit"])

    # ------------------------------------------------------------------
    def signatures(self, texts: list[str]) -> np.ndarray:
        return self.fingerprinter.signatures([canonical(t) for t in texts])

    def prepare(self, texts: list[str], normalized: bool = False) -> tuple[np.ndarray, list[Doc]]:
        """Signatures and verification documents of raw texts (``normalized``: of texts that have
        been through nlp.normalize already)."""
        from nlp.normalize import normalize

        norm = texts if normalized else [normalize(t if isinstance(t, str) else str(t)) for t in texts]
        canons = [canonical(t, normalized=True) for t in norm]
        docs = self.verifier.docs(canons, self.verifier.elements_many(norm))
        return self.fingerprinter.signatures(canons), docs

    def candidates(self, sigs: np.ndarray) -> dict[int, list[int]]:
        """Row -> the other rows sharing at least ``min_bands`` bands, best first (at most
        ``verify_top``). Reports with an empty text have no candidates."""
        n = len(sigs)
        if n < 2:
            return {}
        keys = self.fingerprinter.band_keys(sigs)
        empty = (np.asarray(sigs) == np.iinfo(np.uint64).max).all(axis=1)
        rows = np.repeat(np.arange(n), keys.shape[1])[~np.repeat(empty, keys.shape[1])]
        flat = keys[~empty].ravel()
        order = np.argsort(flat, kind="stable")
        flat, rows = flat[order], rows[order]  # rows ascending within a bucket
        starts = np.flatnonzero(np.r_[True, flat[1:] != flat[:-1]])
        sizes = np.diff(np.r_[starts, len(flat)])
        # a bucket with more reports than bucket_limit is a bigram too common to tell matters apart
        size = np.repeat(sizes, sizes)
        keep = (size > 1) & (size <= self.bucket_limit)
        flat, rows, size = flat[keep], rows[keep], size[keep]
        pos = _rank_in_runs(flat)
        pairs = []
        active = np.flatnonzero(size > 1)
        for d in range(1, self.bucket_limit):  # entry i with the entry d places after it in its bucket
            active = active[pos[active] + d < size[active]]
            if not len(active):
                break
            pairs.append(rows[active].astype(np.int64) * n + rows[active + d])
        if not pairs:
            return {}
        codes, counts = _unique(np.concatenate(pairs))
        codes, counts = codes[counts >= self.min_bands], counts[counts >= self.min_bands]
        a, b = codes // n, codes % n
        both = np.concatenate([a, b]), np.concatenate([b, a]), np.concatenate([counts, counts])
        order = np.lexsort((both[1], -both[2], both[0]))  # by row, most bands first, then row order
        first, other = both[0][order], both[1][order]
        best = _rank_in_runs(first) < self.verify_top
        out: dict[int, list[int]] = {}
        for x, y in zip(first[best].tolist(), other[best].tolist()):
            out.setdefault(x, []).append(y)
        return out

    def verify(self, cands: dict[int, list[int]], docs: dict[int, Doc],
               workers: int = 1) -> dict[int, list[tuple[int, float]]]:
        """Row -> verified matches (row, similarity), most similar first. With ``workers`` > 1 and
        many pairs, the blocks of pairs are scored in that many forked processes (they share the
        documents with this one; only the scores travel back)."""
        rows = np.fromiter(cands, dtype=np.int64, count=len(cands))
        counts = np.fromiter((len(v) for v in cands.values()), dtype=np.int64, count=len(cands))
        first = np.repeat(rows, counts)
        other = np.fromiter((b for v in cands.values() for b in v), dtype=np.int64, count=int(counts.sum()))
        n = int(max(first.max(initial=0), other.max(initial=0))) + 1
        code = np.minimum(first, other) * n + np.maximum(first, other)
        pairs, _ = _unique(code)  # every unordered pair once, in order
        keys = list(zip((pairs // n).tolist(), (pairs % n).tolist()))
        parts = workers if workers > 1 and len(keys) >= 2 * self.parallel_pairs else 1
        size = max(1, -(-len(keys) // parts))
        blocks = [keys[s:s + size] for s in range(0, len(keys), size)]
        if parts > 1:
            global _SCORING
            _SCORING = (self, docs, blocks)
            import multiprocessing as mp

            with mp.get_context("fork").Pool(parts) as pool:
                scored = pool.map(_score_block, range(len(blocks)))
            _SCORING = None
        else:
            scored = [self._score(docs, block) for block in blocks]
        sims = np.concatenate(scored) if scored else np.zeros(0)
        self.scores = dict(zip(keys, sims.tolist()))  # (a, b) -> similarity of every scored pair, a < b
        sim = sims[np.searchsorted(pairs, code)] if len(pairs) else np.zeros(0)
        keep = sim >= self.verifier.threshold
        first, other, sim = first[keep], other[keep], sim[keep]
        order = np.lexsort((other, -sim, first))  # by row, most similar first, then row order
        out: dict[int, list[tuple[int, float]]] = {}
        for a, b, s in zip(first[order].tolist(), other[order].tolist(), sim[order].tolist()):
            out.setdefault(a, []).append((b, s))
        return out

    def _score(self, docs: dict[int, Doc], block: list[tuple[int, int]]) -> np.ndarray:
        scores = []
        for start in range(0, len(block), self.verify_block):  # bounded sparse products
            part = block[start:start + self.verify_block]
            rows = sorted({r for key in part for r in key})
            where = {r: k for k, r in enumerate(rows)}
            a = np.fromiter((where[x] for x, _ in part), dtype=np.int64, count=len(part))
            b = np.fromiter((where[y] for _, y in part), dtype=np.int64, count=len(part))
            scores.append(self.verifier.similarities_indexed([docs[r] for r in rows], a, b))
        return np.concatenate(scores) if scores else np.zeros(0)

    def match(self, texts: list[str]) -> dict[int, list[tuple[int, float]]]:
        """Verified matches within ``texts`` (everything in memory: for small batches and tuning)."""
        sigs, docs = self.prepare(texts)
        return self.verify(self.candidates(sigs), dict(enumerate(docs)))


_SCORING = None  # (matcher, docs, blocks) while forked processes score blocks


def _score_block(k: int) -> np.ndarray:
    matcher, docs, blocks = _SCORING
    return matcher._score(docs, blocks[k])


def _unique(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values and their counts (by sorting: numpy's hashing unique is slower here)."""
    ranked = np.sort(values)
    if not len(ranked):
        return ranked, np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, ranked[1:] != ranked[:-1]])
    return ranked[starts], np.diff(np.r_[starts, len(ranked)])


def _rank_in_runs(values: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... within each run of equal consecutive values."""
    if not len(values):
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
    return np.arange(len(values)) - np.repeat(starts, np.diff(np.r_[starts, len(values)]))


def groups(matches: dict[int, list[tuple[int, float]]], scores: dict[tuple[int, int], float] | None = None,
           threshold: float = 0.5) -> dict[int, int]:
    """Row -> group number (1, 2, ... in order of each group's first row) for rows with a match.

    Verified pairs join groups, the most similar first; two groups join only when the pairs
    between them that were scored average at least ``threshold`` (``scores``: (a, b) -> similarity,
    a < b), so one borderline pair does not chain two matters into one group."""
    parent: dict[int, int] = {}
    members: dict[int, list[int]] = {}
    scores = scores or {}

    def find(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    edges = sorted({(min(a, b), max(a, b), s) for a, found in matches.items() for b, s in found},
                   key=lambda e: (-e[2], e[0], e[1]))
    for a, b, _ in edges:
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        ma, mb = members.get(ra, [ra]), members.get(rb, [rb])
        cross = [scores[(min(x, y), max(x, y))] for x in ma for y in mb if (min(x, y), max(x, y)) in scores]
        if cross and sum(cross) / len(cross) < threshold:
            continue
        root, other = min(ra, rb), max(ra, rb)
        parent[other] = root
        members[root] = ma + mb
        members.pop(other, None)
    size: dict[int, int] = {}
    for x in parent:
        size[find(x)] = size.get(find(x), 0) + 1
    number = {r: k + 1 for k, r in enumerate(sorted(r for r, n in size.items() if n > 1))}
    return {x: number[find(x)] for x in sorted(parent) if find(x) in number}
