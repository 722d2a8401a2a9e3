"""Agreement of two annotators' element files over the same rows.

    python -m nlp.elements.agreement 标注A.jsonl 标注B.jsonl

Each file has one row a line, in the format of ``corpora/elements.jsonl`` (``spans``) or of the
staged rows (``elements``). Rows are paired by ``id`` (by text when a row has no id). Printed per
element: presence agreement (both mark it, or both do not), Cohen's kappa of presence, and the
span F1 with overlapping spans counted as agreeing (and with exact bounds).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from nlp.elements.patterns import ELEMENTS
from nlp.errors import UserError


def _keyed(path: Path) -> dict[str, tuple[str, list]]:
    from nlp.elements.corpus import read_annotations

    if not path.is_file():
        raise UserError(f"找不到标注文件 {path}。")
    ann = read_annotations([path])
    raw_ids = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            raw_ids.append(str(json.loads(line).get("id") or ""))
    return {(rid or text): (text, spans) for rid, text, spans in zip(raw_ids, ann["text"], ann["spans"])}


def kappa(a: list[bool], b: list[bool]) -> float:
    n = len(a)
    if not n:
        return float("nan")
    po = sum(x == y for x, y in zip(a, b)) / n
    pa, pb = sum(a) / n, sum(b) / n
    pe = pa * pb + (1 - pa) * (1 - pb)
    return 1.0 if pe == 1 else (po - pe) / (1 - pe)


def agreement(path_a: str | Path, path_b: str | Path) -> dict:
    from nlp.elements.evaluate import score

    a, b = _keyed(Path(path_a)), _keyed(Path(path_b))
    common = [k for k in a if k in b]
    sa, sb = [a[k][1] for k in common], [b[k][1] for k in common]
    figures = score(sa, sb)
    for name in ELEMENTS:
        figures[name]["kappa"] = kappa([any(s[0] == name for s in x) for x in sa],
                                       [any(s[0] == name for s in x) for x in sb])
    return {"common": len(common), "only_a": len(a) - len(common), "only_b": len(b) - len(common),
            "figures": figures}


def render(result: dict) -> str:
    lines = [f"两份标注共同 {result['common']} 行（只在 A 中 {result['only_a']} 行，只在 B 中 {result['only_b']} 行）",
             "要素 有无一致率 片段重叠F1 片段精确F1 κ(有无)"]
    f = result["figures"]
    for name in ELEMENTS:
        lines.append(f"{name} {f[name]['presence_accuracy']:.3f} {f[name]['span_f1_overlap']:.3f} "
                     f"{f[name]['span_f1_exact']:.3f} {f[name]['kappa']:.3f}")
    m = f["mean"]
    lines.append(f"平均 {m['presence_accuracy']:.3f} {m['span_f1_overlap']:.3f} {m['span_f1_exact']:.3f} -")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 2:
        print("用法：python -m nlp.elements.agreement 标注A.jsonl 标注B.jsonl", file=sys.stderr)
        return 2
    try:
        result = agreement(*argv)
    except UserError as e:
        print(f"错误：{e}", file=sys.stderr)
        return 1
    if not result["common"]:
        print("错误：两份标注没有共同的行（按 id 或文本配对）。", file=sys.stderr)
        return 1
    print(render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
