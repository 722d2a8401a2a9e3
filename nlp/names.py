"""Names in clue text: anonymisation placeholders (某县, 某局, 张某, 某某) and concrete names.

Real clues name real places, units and people; much written material uses placeholders. The model
must not read a placeholder as substance, and the evaluation protocol swaps one for the other
to check that labels do not move.
"""

from __future__ import annotations

import random
import re

_PLACE_SUFFIX = "省市县区镇乡村"
_UNIT_SUFFIX = "局委办所站院校厂队"
_STEMS = ["安平", "青石", "柳河", "东湖", "白水", "红旗", "长宁", "丰乐", "松林", "石桥", "永兴", "双河",
          "新丰", "临江", "桃源", "金沙", "平川", "龙泉", "清溪", "三合"]
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何林高罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程苏魏吕丁任沈姚卢"
_GIVEN = ["建国", "秀英", "志强", "桂兰", "德顺", "海燕", "红梅", "卫东", "国庆", "丽华", "永刚", "春生"]
_PLACEHOLDER = re.compile(rf"某+(?=街道|社区|[{_PLACE_SUFFIX}{_UNIT_SUFFIX}])|([{_SURNAMES}])某+|某某")


def drop_placeholders(text: str) -> str:
    """某县住建局 -> 县住建局, 张某 -> 张, 某某 -> '' (what the features see with placeholders="drop")."""
    if "某" not in text:
        return text
    return _PLACEHOLDER.sub(lambda m: m.group(1) or "", text)


def to_concrete(text: str, rng: random.Random) -> str:
    """Placeholders replaced by concrete fictional names: 某县 -> 安平县, 张某 -> 张建国, 某某 -> 刘德顺."""
    def sub(m: re.Match) -> str:
        if m.group(1):
            return m.group(1) + rng.choice(_GIVEN)
        if m.group(0).startswith("某某") and not re.match(rf"某+(街道|社区|[{_PLACE_SUFFIX}{_UNIT_SUFFIX}])",
                                                         text[m.start():]):
            return rng.choice(_SURNAMES) + rng.choice(_GIVEN)
        return rng.choice(_STEMS)
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
