"""Stage: normalisation. Every text passes through :func:`normalize` before anything else.

What it does, in order:
1. HTML: tags removed (block tags become line breaks), entities unescaped.
2. Unicode NFKC (full-width ASCII, digits and punctuation become their plain forms).
3. Zero-width and control characters removed.
4. Inline pinyin annotations removed: ``擔(dān)`` -> ``擔``; real parentheses such as
   ``(2018—2020年)`` or ``(以下简称“专项治理”)`` are kept.
5. Traditional -> Simplified Chinese with OpenCC (``t2s``).
6. Whitespace: runs collapse to one space, spaces between Chinese characters are dropped,
   line breaks are kept (one per paragraph) because case splitting reads them.

The function is total on ``str`` (empty, emoji, megabytes) and idempotent:
``normalize(normalize(x)) == normalize(x)``.
"""

from __future__ import annotations

import html
import re
import unicodedata
from functools import lru_cache

_TONE = "āáǎàōóǒòēéěèīíǐìūúǔùǖǘǚǜńňǹḿ"
_PINYIN_CHARS = f"a-zü{_TONE}"
# A pinyin annotation: lower-case latin letters with at least one tone mark, 1-7 letters,
# in parentheses right after the annotated character (any non-space character: the
# annotated character is sometimes itself garbled into "F" or "?").
_PINYIN = re.compile(rf"(?<=[^\s(])\((?=[{_PINYIN_CHARS}]*[{_TONE}])[{_PINYIN_CHARS}]{{1,7}}\)")
# Toneless syllables only after a Chinese character, and only the common neutral-tone ones.
_NEUTRAL = re.compile(r"(?<=[\u4e00-\u9fff])\((?:de|le|me|men|zi|ne|ma|ba|zhe|tou|shang|li)\)")
# Garbled annotation whose "(" was lost with the character before it: "?shù)".
_ORPHAN = re.compile(rf"[?\ufffd](?=[{_PINYIN_CHARS}]*[{_TONE}])[{_PINYIN_CHARS}]{{1,7}}\)")
_TAG_BLOCK = re.compile(r"<\s*(?:br|/p|/div|/li|/tr|/h[1-6])\s*/?\s*>", re.I)
_TAG = re.compile(r"<\s*/?\s*[a-zA-Z][^<>]{0,200}>")
_INVISIBLE = re.compile("[\u200b-\u200f\u2028\u2029\u202a-\u202e\u2060-\u2064\ufeff\u00ad"
                        "\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_HSPACE = re.compile(r"[^\S\n]+")
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\u3000-\u303f"
_CJK_SPACE = re.compile(rf"(?<=[{_CJK}]) (?=[{_CJK}])")
_NEWLINES = re.compile(r"\s*\n\s*")
# Code points UTF-8 cannot encode (lone surrogates, e.g. from surrogateescape'd argv or a
# JSON "\udc80"): OpenCC and the tokenizers would raise on them.
_SURROGATE = re.compile("[\ud800-\udfff]")


def replace_surrogates(text: str) -> str:
    """Lone surrogates (unencodable in UTF-8) become U+FFFD, so the text can be written out."""
    return _SURROGATE.sub("\ufffd", text)


@lru_cache(maxsize=1)
def _converter():
    import opencc

    return opencc.OpenCC("t2s")


def to_simplified(text: str) -> str:
    """Traditional -> Simplified with OpenCC (phrase-aware)."""
    return _converter().convert(text) if text else text


def strip_pinyin(text: str) -> str:
    """Remove inline pinyin annotations, keep genuine parenthesised text."""
    if "(" not in text and ")" not in text:
        return text
    text = _PINYIN.sub("", text)
    text = _NEUTRAL.sub("", text)
    return _ORPHAN.sub("", text)


def strip_html(text: str) -> str:
    if "<" in text:
        text = _TAG_BLOCK.sub("\n", text)
        text = _TAG.sub("", text)
    if "&" in text:
        text = html.unescape(text)
    return text


def normalize(text: str) -> str:
    """Normalise one text; see the module docstring. Total and idempotent on ``str``."""
    if not text:
        return ""
    text = _SURROGATE.sub("\ufffd", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    # Unescape twice at most: "&amp;lt;" style double escaping is common in exported web forms.
    text = strip_html(strip_html(text))
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text)
    text = strip_pinyin(text)
    text = to_simplified(text)
    text = _HSPACE.sub(" ", text)
    text = _CJK_SPACE.sub("", text)
    text = _NEWLINES.sub("\n", text)
    return text.strip()
