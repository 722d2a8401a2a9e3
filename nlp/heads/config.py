"""Stage: heads — per-head learner settings, read from data (nlp/data/heads.toml).

    [default]            settings every head starts from
    [heads.<scheme id>]  what one head changes (a scheme not listed uses [default])

Keys: learner ("svm", "lr", "sgd", "nbsvm"), C, alpha (sgd), nb_base ("svm"/"lr" under nbsvm),
features ("all", "words", "chars", each optionally "+embed": the encoder table's text vectors
appended, scaled by embed_weight; see nlp/embed.py and the [embed] table), offsets (per-code decision offsets set on out-of-fold
margins), stack (scheme ids whose scores are appended as features), stack_weight, thresholds
(multi-label heads: "f1" = each code's threshold maximises its out-of-fold F1; "rate" = each code
is chosen out of fold as often as it is labelled).
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from nlp.errors import UserError
from nlp.segment import data_path

KEYS = {"learner": str, "C": float, "alpha": float, "nb_base": str, "features": str, "offsets": bool,
        "stack": list, "stack_weight": float, "thresholds": str, "embed_weight": float}
DEFAULTS = {"learner": "svm", "C": 0.5, "alpha": 1e-5, "nb_base": "svm", "features": "all", "offsets": False,
            "stack": [], "stack_weight": 0.3, "thresholds": "f1", "embed_weight": 0.3}
EMBED_KEYS = {"encoder": str, "a": float, "remove_pc": bool, "dims": int}
EMBED_DEFAULTS = {"encoder": "use", "a": 1e-3, "remove_pc": True, "dims": 0}
FAMILIES = ("all", "words", "chars")


def load_head_settings(path: str | Path | None = None) -> tuple[dict, dict[str, dict]]:
    """([default] settings, {scheme id: settings}) with every key filled and checked."""
    p = Path(path) if path else data_path("heads.toml")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise UserError(f"头部设置文件 {p.name} 无法读取：{e}") from None
    default = _checked({**DEFAULTS, **data.get("default", {})}, p.name, "default")
    heads = {sid: _checked({**default, **v}, p.name, sid) for sid, v in data.get("heads", {}).items()}
    return default, heads


def load_embed_settings(path: str | Path | None = None) -> dict:
    """The [embed] table: the training-time encoder of the word table and its SIF settings."""
    p = Path(path) if path else data_path("heads.toml")
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise UserError(f"头部设置文件 {p.name} 无法读取：{e}") from None
    s = {**EMBED_DEFAULTS, **data.get("embed", {})}
    for k, v in s.items():
        if k not in EMBED_KEYS:
            raise UserError(f"{p.name} 的 [embed] 中有未知的设置项 {k!r}")
        if EMBED_KEYS[k] is float and isinstance(v, int) and not isinstance(v, bool):
            s[k] = float(v)
        elif not isinstance(s[k], EMBED_KEYS[k]):
            raise UserError(f"{p.name} 的 [embed] 中 {k} 的值类型不对：{v!r}")
    return s


def feature_family(features: str) -> tuple[str, bool]:
    """("all", True) for "all+embed": the TF-IDF family and whether the table's vectors are appended."""
    base, _, extra = features.partition("+")
    return base, extra == "embed"


def _checked(s: dict, name: str, where: str) -> dict:
    for k, v in s.items():
        if k not in KEYS:
            raise UserError(f"{name} 的 [{where}] 中有未知的设置项 {k!r}")
        if KEYS[k] is float and isinstance(v, int):
            s[k] = float(v)
        elif not isinstance(v, KEYS[k]):
            raise UserError(f"{name} 的 [{where}] 中 {k} 的值类型不对：{v!r}")
    if s["learner"] not in ("svm", "lr", "sgd", "nbsvm"):
        raise UserError(f"{name} 的 [{where}] 中 learner 须为 svm、lr、sgd 或 nbsvm")
    base, _, extra = s["features"].partition("+")
    if base not in FAMILIES or extra not in ("", "embed"):
        raise UserError(f"{name} 的 [{where}] 中 features 须为 all、words 或 chars（可加 +embed）")
    if s["thresholds"] not in ("f1", "rate"):
        raise UserError(f"{name} 的 [{where}] 中 thresholds 须为 f1 或 rate")
    return s
