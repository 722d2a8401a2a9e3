"""Stage: heads — per-head learner settings, read from data (nlp/data/heads.toml).

    [default]            settings every head starts from
    [heads.<scheme id>]  what one head changes (a scheme not listed uses [default])

Keys: learner ("svm", "lr", "sgd", "nbsvm"), C, alpha (sgd), nb_base ("svm"/"lr" under nbsvm),
features ("all", "words", "chars"), offsets (per-code decision offsets set on out-of-fold
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
        "stack": list, "stack_weight": float, "thresholds": str}
DEFAULTS = {"learner": "svm", "C": 0.5, "alpha": 1e-5, "nb_base": "svm", "features": "all", "offsets": False,
            "stack": [], "stack_weight": 0.3, "thresholds": "f1"}


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
    if s["features"] not in ("all", "words", "chars"):
        raise UserError(f"{name} 的 [{where}] 中 features 须为 all、words 或 chars")
    if s["thresholds"] not in ("f1", "rate"):
        raise UserError(f"{name} 的 [{where}] 中 thresholds 须为 f1 或 rate")
    return s
