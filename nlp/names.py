"""Names in clue text: anonymisation placeholders (某县, 某局, 张某, 某某) and concrete names.

Real clues name real places, units and people; much written material uses placeholders. The model
must not read a placeholder as substance, and the evaluation protocol swaps one for the other
to check that labels do not move.
"""

from __future__ import annotations

import random
import re
import tomllib
from pathlib import Path

_PLACE_SUFFIX = "省市县区镇乡村"
_UNIT_SUFFIX = "局委办所站院校厂队"
_POOLS = tomllib.loads((Path(__file__).parent / "data" / "names.toml").read_text(encoding="utf-8"))
_SURNAMES = _POOLS["surnames"]
_GIVEN = _POOLS["given"]
_TITLES = {"主任", "常任", "兼任", "主管"}
_PLACEHOLDER = re.compile(rf"某{{1,8}}(?=街道|社区|[{_PLACE_SUFFIX}{_UNIT_SUFFIX}])|([{_SURNAMES}])某{{1,8}}|某某")


def drop_placeholders(text: str) -> str:
    """某县住建局 -> 县住建局, 张某 -> 张, 某某 -> '' (what the features see with placeholders="drop")."""
    if "某" not in text:
        return text
    return _PLACEHOLDER.sub(lambda m: m.group(1) or "", text)


def to_concrete(text: str, rng: random.Random) -> str:
    """Placeholders replaced by concrete fictional names: 某县 -> 青河县, 张某 -> 张建国, 某某 -> 刘德顺.
    The same placeholder followed by the same word gets the same name throughout one text."""
    chosen: dict[str, str] = {}

    def sub(m: re.Match) -> str:
        after = text[m.end():m.end() + 2]
        key = m.group(0) + "|" + after[:1]
        if key not in chosen:
            if m.group(1) and text[max(0, m.start() - 1):m.start() + 1] in _TITLES:  # 主任某某: not 任
                chosen[key] = m.group(1) + rng.choice(_SURNAMES) + rng.choice(_GIVEN)
            elif m.group(1):
                chosen[key] = m.group(1) + rng.choice(_GIVEN)
            elif m.group(0).startswith("某某") and not re.match(
                    rf"(街道|社区|[{_PLACE_SUFFIX}{_UNIT_SUFFIX}])", after):
                chosen[key] = rng.choice(_SURNAMES) + rng.choice(_GIVEN)
            else:
                chosen[key] = rng.choice(_POOLS["place_first"]) + rng.choice(_POOLS["place_second"])
        return chosen[key]
    return _PLACEHOLDER.sub(sub, text)


def to_placeholder(text: str, tokenizer) -> str:
    """Concrete place and person names (jieba's ns / nr tags) replaced by placeholders."""
    out = []
    for word, pos in tokenizer.tag(text):
        if pos == "ns" and len(word) >= 2 and "某" not in word:
            out.append("某" + word[-1] if word[-1] in _PLACE_SUFFIX else "某地")
        elif pos in ("nr", "nrfg") and len(word) >= 2 and "某" not in word:
            out.append(word[0] + "某")
        else:
            out.append(word)
    return "".join(out)


def has_placeholder(text: str) -> bool:
    return _PLACEHOLDER.search(text) is not None
