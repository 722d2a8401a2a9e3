"""Stage: label taxonomy. Loads and validates the taxonomy data file (TOML).

Every scheme (质量, 低质原因, 维度, 作为类型, 东丽类别, 盐山类别 and any user scheme) and its codes
live in ``nlp/data/taxonomy.toml``. Nothing else in the package hard-codes a code list.
"""

from __future__ import annotations

import hashlib
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from nlp.errors import UserError

QUALITY = "质量"
REASON = "低质原因"
GOOD = "合格"
LOW = "低质"
MULTI_SEP = "|"
_TYPED_SEP = re.compile(r"[|、,;/\\\s]+")  # after NFKC: ｜ -> |, ， -> ,, ； -> ;
_APPLIES = {"all", GOOD, LOW}
_KINDS = {"single", "multi"}


@dataclass(frozen=True)
class Code:
    code: str
    name: str
    description: str = ""
    cues: tuple[str, ...] = ()


@dataclass(frozen=True)
class Scheme:
    id: str
    name: str
    kind: str  # "single" | "multi"
    applies_to: str  # "all" | "合格" | "低质"
    codes: tuple[Code, ...]

    @property
    def code_list(self) -> list[str]:
        return [c.code for c in self.codes]

    @property
    def multi(self) -> bool:
        return self.kind == "multi"

    def name_of(self, code: str) -> str:
        for c in self.codes:
            if c.code == code:
                return c.name
        return code

    def label(self, code: str) -> str:
        """A code as a person reads it in a drop-down list: "D06 群众意识淡漠……", "懒：工作效率",
        "无关 与履职无关", "合格"; ``canonical`` reads it back as the code."""
        name = self.name_of(code)
        if name.startswith(code + "："):
            return name
        return code if name.startswith(code) else f"{code} {name}"

    def parse(self, value: str) -> list[str]:
        """Split a cell into codes (multi schemes use '|'); empty cell gives []."""
        value = (value or "").strip()
        if not value:
            return []
        if self.multi:
            return [v.strip() for v in value.split(MULTI_SEP) if v.strip()]
        return [value]

    def canonical(self, value: str) -> str:
        """A cell as people type it, in the file format: codes in any case (``d12``), separated by
        the usual marks (``懒、软``, ``散｜软``, ``懒,软``, ``懒 软``), or given by name (``机关纪律``
        style names from the taxonomy data) -> ``懒|软``, ``D12``. Unknown parts are kept as they
        are, so that validation names them."""
        value = unicodedata.normalize("NFKC", value or "").strip()
        if not value:
            return ""
        by_key = {}
        for c in self.codes:
            by_key[c.code.upper()] = c.code
        for c in self.codes:  # names and drop-down labels ("D06 群众意识淡漠……", "懒：工作效率")
            for form in (c.name, self.label(c.code)):
                by_key.setdefault(unicodedata.normalize("NFKC", form).upper(), c.code)
        parts = [p for p in _TYPED_SEP.split(value) if p] if self.multi else [value]
        codes = [by_key.get(p.upper(), p) for p in parts]
        if self.multi:
            codes = sorted(dict.fromkeys(codes), key=lambda c: self.code_list.index(c) if c in self.code_list else 99)
        return MULTI_SEP.join(codes)

    def accepted_form(self) -> str:
        """How a cell of this scheme is written, for messages."""
        codes = "、".join(self.code_list)
        if self.multi:
            return f"代码 {codes}，多个用“|”或“、”分隔，如“{'|'.join(self.code_list[:2])}”，也可写中文名称"
        return f"代码 {codes} 之一（大小写均可），也可写中文名称"

    def invalid(self, value: str) -> list[str]:
        """Codes in the cell that this scheme does not know."""
        known = set(self.code_list)
        return [c for c in self.parse(value) if c not in known]


@dataclass(frozen=True)
class Taxonomy:
    version: str
    schemes: tuple[Scheme, ...]
    digest: str = field(default="")

    def __getitem__(self, scheme_id: str) -> Scheme:
        for s in self.schemes:
            if s.id == scheme_id:
                return s
        raise KeyError(scheme_id)

    def __contains__(self, scheme_id: str) -> bool:
        return any(s.id == scheme_id for s in self.schemes)

    @property
    def ids(self) -> list[str]:
        return [s.id for s in self.schemes]

    @property
    def label_columns(self) -> list[str]:
        return self.ids

    def cue_terms(self) -> list[tuple[str, str, str]]:
        """(scheme id, code, cue) for every cue term, in file order."""
        return [(s.id, c.code, cue) for s in self.schemes for c in s.codes for cue in c.cues]


def default_path() -> Path:
    return Path(str(resources.files("nlp") / "data" / "taxonomy.toml"))


def load_taxonomy(path: str | Path | None = None) -> Taxonomy:
    """Load and validate a taxonomy file; ``None`` loads the bundled one."""
    path = Path(path) if path else default_path()
    try:
        raw = path.read_bytes()
        data = tomllib.loads(raw.decode("utf-8"))
    except FileNotFoundError:
        raise UserError(f"找不到分类体系文件：{path}") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
        raise UserError(f"分类体系文件 {path} 格式错误：{e}") from None
    return _build(data, hashlib.sha256(raw).hexdigest()[:16], path)


def _build(data: dict, digest: str, path: Path) -> Taxonomy:
    where = f"分类体系文件 {path}"
    schemes = []
    seen: set[str] = set()
    for i, s in enumerate(data.get("schemes", []), 1):
        sid = str(s.get("id", "")).strip()
        if not sid:
            raise UserError(f"{where}：第 {i} 个 scheme 缺少 id")
        if sid in seen:
            raise UserError(f"{where}：scheme “{sid}” 重复定义")
        seen.add(sid)
        kind = s.get("kind", "single")
        applies = s.get("applies_to", GOOD)
        if kind not in _KINDS:
            raise UserError(f"{where}：scheme “{sid}” 的 kind 必须是 single 或 multi，现为 {kind!r}")
        if applies not in _APPLIES:
            raise UserError(f"{where}：scheme “{sid}” 的 applies_to 必须是 all、合格 或 低质，现为 {applies!r}")
        codes = []
        for c in s.get("codes", []):
            code = str(c.get("code", "")).strip()
            if not code or MULTI_SEP in code:
                raise UserError(f"{where}：scheme “{sid}” 有空代码或含“|”的代码")
            codes.append(Code(code, str(c.get("name", code)), str(c.get("description", "")),
                              tuple(str(x) for x in c.get("cues", []) if str(x).strip())))
        if len({c.code for c in codes}) != len(codes):
            raise UserError(f"{where}：scheme “{sid}” 有重复代码")
        if len(codes) < 2:
            raise UserError(f"{where}：scheme “{sid}” 至少需要两个代码")
        schemes.append(Scheme(sid, str(s.get("name", sid)), kind, applies, tuple(codes)))
    for required in (QUALITY, REASON):
        if required not in seen:
            raise UserError(f"{where}：缺少必需的 scheme “{required}”")
    return Taxonomy(str(data.get("version", "1")), tuple(schemes), digest)
