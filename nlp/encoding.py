"""Stage: text encodings of input files. Detect, check that the decoding is plausible Chinese, and
decode line by line so a bad byte is reported with its line and byte offset.

Detection tries UTF-8 (with or without BOM), UTF-16 by BOM, then GB18030 and Big5 (cp950, as
Windows writes it). A legacy decoding is accepted only when the text reads as Chinese: most
of its non-ASCII characters are common Chinese characters (nlp/data/common_hanzi.txt, scored
after Traditional -> Simplified) or CJK punctuation. Shift-JIS, EUC-KR, Latin-1, cp437, KOI8-R
and the 7-bit encodings (HZ, ISO-2022-JP, UTF-7) are refused with a message that suggests
``--encoding``; an ``--encoding`` the user gives is honoured as it is.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from nlp.errors import UserError
from nlp.segment import data_path

SAMPLE = 1 << 18  # bytes read to detect an encoding
MIN_SCORE = 0.5  # share of non-ASCII characters that must be common Chinese characters or punctuation
MIN_EVIDENCE = 3  # fewer non-ASCII characters than this: nothing to judge, ASCII-compatible is fine
LEGACY = ("gb18030", "cp950")
NAMES = {"gb18030": "GB18030（GBK）", "cp950": "Big5（繁体）", "utf-8-sig": "UTF-8", "utf-16": "UTF-16"}
_PUNCT = re.compile("[\u3000-\u303f\uff00-\uffef\u2010-\u2027\u2030-\u203b\u00b7\u00d7\u2160-\u216b"
                    "\u2460-\u2473\u25a0-\u25ff\u00a0]")
_HAN = re.compile("[\u4e00-\u9fff]")
_UTF7 = re.compile(rb"\+[A-Za-z0-9/+]{3,}-")


@lru_cache(maxsize=1)
def common_hanzi() -> frozenset[str]:
    text = data_path("common_hanzi.txt").read_text(encoding="utf-8")
    return frozenset("".join(line.strip() for line in text.splitlines() if not line.startswith("#")))


def plausibility(text: str) -> tuple[float, int]:
    """(share of non-ASCII, non-space characters that are common Chinese characters or CJK
    punctuation, number of such characters)."""
    from nlp.normalize import to_simplified

    odd = [c for c in text if ord(c) > 127 and not c.isspace()]
    if not odd:
        return 1.0, 0
    common = common_hanzi()
    simple = to_simplified("".join(odd))
    good = sum(1 for c in simple if c in common or _PUNCT.match(c))
    return good / max(len(simple), 1), len(odd)


def _utf8(raw: bytes) -> bool:
    try:
        raw.decode("utf-8")
        return True
    except UnicodeDecodeError as e:
        return e.start >= len(raw) - 4 and len(raw) >= SAMPLE  # a character cut by the sample


def _seven_bit(raw: bytes) -> str | None:
    """A 7-bit encoding of CJK text hides in ASCII bytes; name it if its marks are there."""
    if b"\x1b$" in raw or b"\x1b(" in raw:
        return "iso2022_jp"
    if b"~{" in raw and b"~}" in raw:
        return "hz"
    if len(_UTF7.findall(raw)) >= 2:
        try:
            decoded = raw.decode("utf-7")
        except UnicodeDecodeError:
            return None
        if len(_HAN.findall(decoded)) >= 2:
            return "utf-7"
    return None


def detect(path: str | Path) -> str:
    """The encoding to read ``path`` with, or a UserError that says what to do."""
    with Path(path).open("rb") as fh:
        raw = fh.read(SAMPLE)
    if raw.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    if raw.isascii():
        other = _seven_bit(raw)
        if other:
            raise UserError(f"文件 {path} 看起来是 {other} 编码（不是 UTF-8 / GB18030 / Big5），按默认编码读会成乱码。"
                            f"请用 --encoding {other} 指定，或另存为 UTF-8 编码的 CSV。")
        return "utf-8-sig"
    if _utf8(raw):
        return "utf-8-sig"
    best, best_score = None, -1.0
    for enc in LEGACY:
        text = raw.decode(enc, errors="replace")
        score, evidence = plausibility(text)
        if evidence < MIN_EVIDENCE or score >= MIN_SCORE:
            return enc
        if score > best_score:
            best, best_score = enc, score
    raise UserError(f"文件 {path} 的编码无法识别：按 UTF-8、GB18030（GBK）、Big5 读出的都不像中文"
                    f"（可能是日文、韩文或西文编码）。如确知编码，请用 --encoding 指定（如 --encoding shift_jis），"
                    "或在 Excel/记事本中另存为 UTF-8 编码的 CSV。")


def check_name(encoding: str) -> str:
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise UserError(f"不认识的编码名“{encoding[:40]}”：可用如 utf-8、gb18030、big5、shift_jis、hz") from None


@dataclass
class Decoded:
    """What decoding a file met: lines whose bad bytes were replaced (1-based physical lines)."""

    encoding: str
    errors: str = "strict"
    max_line_bytes: int | None = None  # a longer physical line is refused before it is decoded
    replaced_lines: list[int] = field(default_factory=list)


def decode_lines(path: str | Path, state: Decoded) -> Iterator[str]:
    """The file's text line by line (line ends kept). A bad byte raises a UserError naming the
    line and the byte offset, or with ``errors='replace'`` becomes U+FFFD and its line is noted."""
    enc = state.encoding
    if codecs.lookup(enc).name.startswith("utf-16") or not _line_safe(enc):
        with Path(path).open("r", encoding=enc, errors=state.errors, newline="") as fh:
            try:
                yield from fh
            except UnicodeDecodeError as e:
                raise UserError(f"文件 {path} 有无法按 {_name(enc)} 解码的字节。请用 --encoding 指定正确编码，"
                                "或加 --encoding-errors replace 把坏字节替换为 �。") from e
        return
    decoder = codecs.getincrementaldecoder(enc)(errors="strict")
    offset = number = 0
    limit = state.max_line_bytes or -1
    with Path(path).open("rb") as fh:
        while raw := fh.readline(limit + 1 if limit > 0 else -1):
            number += 1
            if 0 < limit < len(raw):
                raise UserError(f"文件 {path} 第 {number} 行超过 {limit // 2**20} MB（单元格或整行过大，"
                                "nlp/data/limits.toml 的 max_line_bytes），拒绝读取。")
            try:
                text = decoder.decode(raw)
            except UnicodeDecodeError as e:
                if state.errors != "replace":
                    raise UserError(
                        f"文件 {path} 第 {number} 行（第 {offset + max(e.start, 0) + 1} 个字节）有无法按 {_name(enc)} "
                        "解码的字节：文件编码混杂或已损坏。请用 --encoding 指定正确编码，"
                        "或加 --encoding-errors replace 把坏字节替换为 � 后继续（替换的行会列在汇总里）。") from None
                decoder.reset()
                text = raw.decode(enc, errors="replace")
                state.replaced_lines.append(number)
            offset += len(raw)
            yield text
        try:
            tail = decoder.decode(b"", final=True)
        except UnicodeDecodeError:  # the file ends inside a character
            if state.errors != "replace":
                raise UserError(f"文件 {path} 末尾有不完整的字符（按 {_name(enc)}）：文件可能被截断。"
                                "可加 --encoding-errors replace 继续。") from None
            tail = "\ufffd"
            state.replaced_lines.append(max(number, 1))
        if tail:
            yield tail


def _line_safe(enc: str) -> bool:
    """Whether a newline byte can only be a newline (splitting bytes at b'\\n' is safe)."""
    return not codecs.lookup(enc).name.startswith(("utf-16", "utf-32", "utf-7", "hz", "iso2022"))


def _name(enc: str) -> str:
    return NAMES.get(enc, enc)
