"""重复件: repeat reports of one matter, within a batch and against a clue base.

- ``fingerprint``: canonical text, MinHash signatures (datasketch), LSH band keys;
- ``verify``: the verification score (TF-IDF cosines and element agreement);
- ``matcher``: candidates and verified matches within a batch, and groups (重复组);
- ``base``: the clue base (SQLite) of earlier reports, ``ClueBase(path).similar(text)``.

Settings are data: ``nlp/data/dedupe.toml``.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache

from nlp.segment import data_path


@lru_cache(maxsize=1)
def settings() -> dict:
    return tomllib.loads(data_path("dedupe.toml").read_text(encoding="utf-8"))
