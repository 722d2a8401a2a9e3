"""Stage: segmentation. One tokenizer, two backends that give the same tokens on Chinese text.

- ``jieba``: the reference implementation (pure Python).
- ``rjieba``: jieba's algorithm and dictionary in Rust (jieba-rs), about 20x faster;
  the default when installed.

Both load the same domain dictionary (``nlp/data/domain_dict.txt``, jieba's user-dictionary
format ``word freq pos``), so campaign terms such as 不作为 or 吃拿卡要 come out whole.

    >>> Tokenizer().lcut("整治吃拿卡要")
    ['整治', '吃拿卡要']
"""

from __future__ import annotations

import importlib.util
import logging
import re
from functools import lru_cache
from importlib import resources
from itertools import compress
from pathlib import Path

from nlp.errors import UserError

BACKENDS = ("rjieba", "jieba")


def data_path(name: str) -> Path:
    return Path(str(resources.files("nlp") / "data" / name))


@lru_cache(maxsize=8)
def read_dictionary(path: str) -> tuple[tuple[str, int, str], ...]:
    """Entries of a jieba-format user dictionary: (word, freq, pos)."""
    entries = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        try:
            freq = int(parts[1]) if len(parts) > 1 else 20000
        except ValueError:
            raise UserError(f"词典 {path} 第 {n} 行：词频必须是整数") from None
        entries.append((parts[0], freq, parts[2] if len(parts) > 2 else "n"))
    return tuple(entries)


@lru_cache(maxsize=8)
def read_wordlist(path: str) -> frozenset[str]:
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return frozenset(w.strip() for w in lines if w.strip() and not w.startswith("#"))


def available_backends() -> list[str]:
    return [name for name in BACKENDS if importlib.util.find_spec(name) is not None]  # no import: jieba's is slow


class Tokenizer:
    """Word segmentation with a domain dictionary.

    Parameters
    ----------
    backend : "auto", "rjieba" or "jieba". "auto" takes rjieba when installed.
    user_dict : path of a jieba-format dictionary; default the bundled domain dictionary.
    stopwords : path of a stopword list (one a line); default the bundled list.
    """

    def __init__(self, backend: str = "auto", user_dict: str | None = None, stopwords: str | None = None):
        self.backend = backend
        self.user_dict = user_dict
        self.stopwords = stopwords
        self._impl = None

    # The backend objects are not picklable; workers rebuild them on first use.
    def __getstate__(self):
        state = self.__dict__.copy()
        state["_impl"] = None
        state.pop("_keep", None)
        return state

    @property
    def backend_name(self) -> str:
        if self.backend == "auto":
            return "rjieba" if "rjieba" in available_backends() else "jieba"
        if self.backend not in BACKENDS:
            raise UserError(f"未知的分词后端 {self.backend!r}，可选：auto、rjieba、jieba")
        return self.backend

    def _load(self):
        if self._impl is not None:
            return self._impl
        entries = read_dictionary(str(self.user_dict or data_path("domain_dict.txt")))
        name = self.backend_name
        if name == "rjieba":
            import rjieba

            seg = rjieba.Jieba()
            for word, freq, pos in entries:
                seg.add_word(word, freq, pos)
            self._impl = (seg.cut, lambda t: [tuple(p) for p in seg.tag(t)])
        else:
            import jieba
            import jieba.posseg

            jieba.setLogLevel(logging.WARNING)
            seg = jieba.Tokenizer()
            for word, freq, pos in entries:
                seg.add_word(word, freq, pos)
            pos_seg = jieba.posseg.POSTokenizer(seg)
            self._impl = (seg.lcut, lambda t: [(p.word, p.flag) for p in pos_seg.lcut(t)])
        return self._impl

    def lcut(self, text: str) -> list[str]:
        """All tokens, punctuation and spaces included (jieba's ``lcut``)."""
        return self._load()[0](text) if text else []

    def tag(self, text: str) -> list[tuple[str, str]]:
        """(word, part-of-speech) pairs with jieba's tag set."""
        return self._load()[1](text) if text else []

    def words(self, text: str) -> list[str]:
        """Content tokens for features: no whitespace, punctuation or stopwords."""
        keep = self.__dict__.get("_keep")
        if keep is None or len(keep) > 500_000:  # bounded memo of token -> is a content word
            keep = self.__dict__["_keep"] = {}
        stop = self.__dict__.get("_stop")
        if stop is None:
            stop = self.__dict__["_stop"] = read_wordlist(str(self.stopwords or data_path("stopwords.txt")))
        tokens = self.lcut(text)
        flags = list(map(keep.get, tokens))
        if None in flags:
            for i, w in enumerate(tokens):
                if flags[i] is None:
                    flags[i] = keep[w] = w not in stop and _WORD.search(w) is not None
        return list(compress(tokens, flags))


_WORD = re.compile(r"[^\W_]")  # a letter or digit of any script
