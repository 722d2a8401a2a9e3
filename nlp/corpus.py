"""The labeled corpus: validation, near-duplicate search, coverage, splits, merging new rows.

Command line: ``python -m nlp.corpus check [FILE]`` validates a corpus file and prints its
distribution table; it exits non-zero on any failure.
"""

from __future__ import annotations

import collections
import hashlib
import json
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from nlp.errors import UserError
from nlp.segment import data_path
from nlp.taxonomy import GOOD, LOW, QUALITY, REASON, Taxonomy, load_taxonomy

BASE_COLUMNS = ["id", "text", "质量", "低质原因", "维度", "作为类型", "东丽类别", "盐山类别"]
META_COLUMNS = ["source", "case", "voice", "split", "added", "reviewer", "round", "names", "pair"]
SPLITS = ("train", "dev", "test")


def default_corpus() -> Path:
    return Path(__file__).resolve().parent.parent / "corpora" / "clues.csv"


def minimums() -> dict:
    return tomllib.loads(data_path("corpus_minimums.toml").read_text(encoding="utf-8"))


# ------------------------------------------------------------------ validation
@dataclass
class Problem:
    row: int | None  # 1-based data row (the header is row 0); None for file-level problems
    column: str
    message: str

    def __str__(self) -> str:
        where = f"第 {self.row} 行" if self.row is not None else "文件"
        col = f"“{self.column}”列" if self.column else ""
        return f"{where}{col}：{self.message}"


def validate_rows(df: pd.DataFrame, taxonomy: Taxonomy, first_row: int = 1) -> list[Problem]:
    """Label and text problems of labeled rows (schema of shared/taxonomy.md)."""
    problems: list[Problem] = []
    missing = [c for c in ("text", QUALITY) if c not in df.columns]
    if missing:
        return [Problem(None, c, f"缺少必需的列。现有列：{'、'.join(map(str, df.columns))}") for c in missing]
    df = df.fillna("").astype(str)
    reason_codes = set(taxonomy[REASON].code_list)
    label_schemes = [s for s in taxonomy.schemes if s.id not in (QUALITY, REASON) and s.id in df.columns]
    for k, r in enumerate(df.to_dict("records")):
        n = first_row + k
        get = lambda c: str(r.get(c, "")).strip()
        text = get("text")
        if not text:
            problems.append(Problem(n, "text", "文本为空"))
        q = get(QUALITY)
        if q not in (GOOD, LOW):
            problems.append(Problem(n, QUALITY, f"必须是“合格”或“低质”，现为“{q}”"))
            continue
        reason = get(REASON)
        if q == LOW and reason not in reason_codes:
            problems.append(Problem(n, REASON, f"低质行必须填写低质原因（{'/'.join(sorted(reason_codes))}），现为“{reason}”"))
        if q == GOOD and reason:
            problems.append(Problem(n, REASON, "合格行的低质原因应为空"))
        for s in label_schemes:
            v = get(s.id)
            bad = s.invalid(v)
            if bad:
                problems.append(Problem(n, s.id, f"未知代码“{'、'.join(bad)}”；应填{s.accepted_form()}"))
            elif q == GOOD and s.applies_to == GOOD and not s.multi and not v and s.id in BASE_COLUMNS:
                problems.append(Problem(n, s.id, "合格行必须填写"))
            if s.multi and len(s.parse(v)) != len(set(s.parse(v))):
                problems.append(Problem(n, s.id, "代码重复"))
    return problems


# ----------------------------------------------------------- near-duplicates
def _grams(text: str, n: int = 5) -> frozenset[str]:
    t = "".join(str(text).split())
    return frozenset(t[i:i + n] for i in range(max(1, len(t) - n + 1)))


def near_duplicates(texts: list[str], threshold: float = 0.8, others: list[str] | None = None,
                    max_posting: int = 400) -> list[tuple[int, int, float]]:
    """Pairs (i, j, jaccard) with character 5-gram Jaccard >= threshold.

    With ``others``: i indexes ``texts`` and j indexes ``others`` (new rows against a corpus);
    without: pairs within ``texts``, i < j.
    """
    base = others if others is not None else texts
    base_grams = [_grams(t) for t in base]
    index: dict[str, list[int]] = collections.defaultdict(list)
    for j, g in enumerate(base_grams):
        for x in g:
            index[x].append(j)
    pairs = []
    for i, t in enumerate(texts):
        g = base_grams[i] if others is None else _grams(t)
        counts: collections.Counter[int] = collections.Counter()
        for x in g:
            posting = index.get(x, ())
            if len(posting) > max_posting:
                continue
            counts.update(posting)
        for j, inter in counts.items():
            if others is None and j <= i:
                continue
            gj = base_grams[j]
            # shared grams counted only among rare ones: recompute exactly
            if inter / max(len(g), len(gj)) < threshold * 0.5:
                continue
            jac = len(g & gj) / len(g | gj)
            if jac >= threshold:
                pairs.append((i, j, round(jac, 3)))
    return pairs


# ------------------------------------------------------------------- splits
def _stable_hash(text: str, seed: int) -> int:
    return int(hashlib.sha1(f"{seed}:{text}".encode("utf-8")).hexdigest()[:12], 16)


def assign_splits(df: pd.DataFrame, seed: int = 20261122, shares: dict | None = None) -> pd.Series:
    """Stratified train/dev/test split, by group: rows written from the same case note share a split.

    Groups: the case note, else the contrast pair, else the row. Strata: 质量 + 低质原因 for 低质 rows,
    质量 + 东丽类别 for 合格 rows.
    """
    shares = shares or minimums()["split_shares"]
    df = df.fillna("").astype(str)
    pair = df["pair"] if "pair" in df.columns else pd.Series("", index=df.index)
    group = df["case"].where(df["case"].str.strip() != "", ("pair:" + pair).where(pair.str.strip() != "",
                                                                                  "row:" + df["text"]))
    stratum = df[QUALITY] + ":" + df[REASON].where(df[QUALITY] == LOW, df["东丽类别"])
    # one stratum per group: its most common one
    g_stratum = stratum.groupby(group).agg(lambda s: s.value_counts().index[0])
    split_of_group: dict[str, str] = {}
    for _, groups in g_stratum.groupby(g_stratum):
        ordered = sorted(groups.index, key=lambda g: _stable_hash(g, seed))
        n = len(ordered)
        n_test = int(round(n * shares["test"]))
        n_dev = int(round(n * shares["dev"]))
        for k, g in enumerate(ordered):
            split_of_group[g] = "test" if k < n_test else "dev" if k < n_test + n_dev else "train"
    return group.map(split_of_group)


# ----------------------------------------------------------------- loading
def read_corpus(path: str | Path | None = None) -> pd.DataFrame:
    path = Path(path) if path else default_corpus()
    if not path.exists():
        raise UserError(f"找不到语料文件：{path}")
    try:
        df = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    except Exception as e:  # pandas raises many types for broken CSV
        raise UserError(f"语料文件 {path} 无法读取：{e}") from None
    for c in BASE_COLUMNS + META_COLUMNS:
        if c not in df.columns:
            df[c] = ""
    return df


def corpus_hash(df: pd.DataFrame) -> str:
    """Hash of the rows a model is trained from (their CSV serialisation), whether or not they are
    on disk yet: ``train.py --add`` trains on the merged rows before writing them."""
    data = df.to_csv(index=False).encode("utf-8")
    return hashlib.sha256(data).hexdigest()[:16]


# ---------------------------------------------------------------- coverage
def distribution(df: pd.DataFrame, taxonomy: Taxonomy) -> dict[str, collections.Counter]:
    df = df.fillna("").astype(str)
    good = df[df[QUALITY] == GOOD]
    dist: dict[str, collections.Counter] = {
        QUALITY: collections.Counter(df[QUALITY]),
        REASON: collections.Counter(df.loc[df[QUALITY] == LOW, REASON]),
    }
    for s in taxonomy.schemes:
        if s.id in (QUALITY, REASON) or s.id not in df.columns:
            continue
        c: collections.Counter = collections.Counter()
        for v in good[s.id]:
            c.update(s.parse(v))
        dist[s.id] = c
    dist["split"] = collections.Counter(df["split"])
    dist["source"] = collections.Counter("template" if v.startswith("template") else v for v in df["source"])
    return dist


def coverage_failures(df: pd.DataFrame, taxonomy: Taxonomy, mins: dict) -> list[str]:
    dist = distribution(df, taxonomy)
    fails = []
    if len(df) < mins["rows"]:
        fails.append(f"总行数 {len(df)} 少于 {mins['rows']}")
    if dist[QUALITY][LOW] < mins["low_quality"]:
        fails.append(f"低质行 {dist[QUALITY][LOW]} 少于 {mins['low_quality']}")
    for code in taxonomy[REASON].code_list:
        if dist[REASON][code] < mins["per_reason"]:
            fails.append(f"低质原因“{code}” {dist[REASON][code]} 行，少于 {mins['per_reason']}")
    checks = [("维度", mins["per_dimension"]), ("作为类型", mins["per_kind"]),
              ("东丽类别", mins["per_category"]), ("盐山类别", mins["per_category"])]
    for sid, need in checks:
        for code in taxonomy[sid].code_list:
            want = mins["per_category_small"] if code in mins["small_categories"] else need
            if dist[sid][code] < want:
                fails.append(f"{sid}“{code}” {dist[sid][code]} 行合格样本，少于 {want}")
    good = df[df[QUALITY] == GOOD]
    share = (good["case"].str.strip() != "").mean() if len(good) else 0
    if share < mins["case_share"]:
        fails.append(f"由案例笔记改写的合格行占 {share:.1%}，少于 {mins['case_share']:.1%}")
    per_case = collections.Counter(v for v in df["case"] if v.strip())
    over = [k for k, v in per_case.items() if v > mins["max_rows_per_case"]]
    if over:
        fails.append(f"{len(over)} 条案例笔记超过 {mins['max_rows_per_case']} 行：{'、'.join(over[:5])}")
    fails += naming_failures(df, mins)
    tshare = df["source"].str.startswith("template").mean() if len(df) else 0
    if tshare > mins["max_template_share"]:
        fails.append(f"模板生成行占 {tshare:.1%}，超过 {mins['max_template_share']:.0%}")
    bad_split = sorted(set(df["split"]) - set(SPLITS))
    if bad_split:
        fails.append(f"split 列含非法值：{'、'.join(bad_split)}（应为 train/dev/test）")
    return fails


def naming_failures(df: pd.DataFrame, mins: dict) -> list[str]:
    """Names as in real input: concrete names on enough 合格 rows, and placeholders about as
    common in 合格 as in 低质 rows (else a placeholder reads as substance)."""
    from nlp.names import has_placeholder

    fails = []
    good, low = df[df[QUALITY] == GOOD], df[df[QUALITY] == LOW]
    if "min_concrete_share" in mins and len(good):
        concrete = (good["names"] == "concrete").mean()
        if concrete < mins["min_concrete_share"]:
            fails.append(f"合格行中用具体名称的占 {concrete:.1%}，少于 {mins['min_concrete_share']:.0%}")
    if "max_placeholder_gap" in mins and len(good) and len(low):
        gap = good["text"].map(has_placeholder).mean() - low["text"].map(has_placeholder).mean()
        if abs(gap) > mins["max_placeholder_gap"]:
            fails.append(f"占位名（某县、张某）在合格行与低质行中的比例相差 {gap:+.1%}，超过 "
                         f"{mins['max_placeholder_gap']:.0%}")
    return fails


def distribution_table(df: pd.DataFrame, taxonomy: Taxonomy) -> str:
    dist = distribution(df, taxonomy)
    lines = ["| 标签 | 代码 | 行数 |", "|---|---|---|"]
    for sid, counter in dist.items():
        order = taxonomy[sid].code_list if sid in taxonomy else sorted(counter)
        for code in order:
            lines.append(f"| {sid} | {code} | {counter.get(code, 0)} |")
    good = df[df[QUALITY] == GOOD]
    lines.append(f"| 合格行中由案例改写 | case | {(good['case'].str.strip() != '').sum()} |")
    trad = df["text"].map(lambda t: t != _t2s(t)).sum()
    lines.append(f"| 繁体行 | - | {trad} |")
    from nlp.names import has_placeholder

    for q, rows in ((GOOD, good), (LOW, df[df[QUALITY] == LOW])):
        share = rows["text"].map(has_placeholder).mean() if len(rows) else 0.0
        lines.append(f"| {q}行中含占位名（某县、张某） | - | {share:.1%} |")
    lines.append(f"| 合格行中用具体名称（names=concrete） | - | {(good['names'] == 'concrete').mean():.1%} |")
    lines.append(f"| 最小对照对（pair） | - | {df.loc[df['pair'] != '', 'pair'].nunique()} |")
    return "\n".join(lines)


def _t2s(text: str) -> str:
    from nlp.normalize import to_simplified

    return to_simplified(text)


def source_texts(folder: str | Path) -> list[str]:
    """The texts the corpus must not copy: the seed documents and the case notes' facts."""
    folder = Path(folder)
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in sorted((folder / "seeds").glob("*"))
             if p.is_file()]
    for p in sorted((folder / "cases").glob("*.jsonl")):
        for line in p.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                note = json.loads(line)
            except ValueError:
                continue
            if isinstance(note, dict):
                texts.append("".join(str(note.get(k, "")) for k in ("facts", "outcome")))
    return texts


def verbatim_runs(texts: list[str], sources: list[str], n: int) -> list[tuple[int, str]]:
    """(row index, copied run) for texts sharing ``n`` or more consecutive characters with a
    source (after normalisation, whitespace ignored)."""
    from nlp.normalize import normalize

    def flat(t: str) -> str:
        return "".join(normalize(t).split())

    grams = set()
    for s in map(flat, sources):
        grams.update(s[i:i + n] for i in range(len(s) - n + 1))
    found = []
    for k, t in enumerate(map(flat, texts)):
        hits = [i for i in range(len(t) - n + 1) if t[i:i + n] in grams]
        if hits:
            found.append((k, t[hits[0]:hits[0] + n]))
    return found


def default_sources() -> Path:
    return Path(__file__).resolve().parent.parent.parent / "shared"


def check(path: str | Path | None = None, taxonomy: Taxonomy | None = None, out=sys.stdout,
          sources: str | Path | None = None) -> int:
    """Validate a corpus file; print problems and the distribution table. Returns an exit code.

    ``sources``: folder with ``seeds/`` and ``cases/`` whose text no row may copy (default the
    project's ``../shared`` when present)."""
    taxonomy = taxonomy or load_taxonomy()
    mins = minimums()
    df = read_corpus(path)
    problems = validate_rows(df, taxonomy)
    ids = df["id"]
    for k in ids[ids.duplicated()].index:
        problems.append(Problem(k + 1, "id", f"id“{ids[k]}”重复"))
    for k in df.index[df["id"].str.strip() == ""]:
        problems.append(Problem(k + 1, "id", "id 为空"))
    dups = near_duplicates(df["text"].tolist(), mins["near_duplicate_jaccard"])
    for i, j, jac in dups:
        problems.append(Problem(j + 1, "text", f"与第 {i + 1} 行近似重复（5-gram Jaccard {jac}）"))
    folder = Path(sources) if sources else default_sources()
    if (folder / "seeds").is_dir() or (folder / "cases").is_dir():
        n = mins["max_verbatim_run"]
        for k, run in verbatim_runs(df["text"].tolist(), source_texts(folder), n):
            problems.append(Problem(k + 1, "text", f"与来源原文连续 {n} 字以上相同（“{run}”），须用自己的话改写"))
    else:
        print(f"未找到来源文件夹 {folder}（seeds/、cases/），跳过原创性检查。", file=out)
    fails = coverage_failures(df, taxonomy, mins)
    for p in problems[:200]:
        print(p, file=out)
    if len(problems) > 200:
        print(f"……另有 {len(problems) - 200} 个问题未列出", file=out)
    for f in fails:
        print(f"覆盖不足：{f}", file=out)
    print(distribution_table(df, taxonomy), file=out)
    ok = not problems and not fails
    print(f"{'通过' if ok else '未通过'}：{len(df)} 行，{len(problems)} 个行级问题，{len(fails)} 项覆盖不足。", file=out)
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    sources = None
    if "--sources" in argv:
        k = argv.index("--sources")
        sources = argv[k + 1] if k + 1 < len(argv) else None
        argv = argv[:k] + argv[k + 2:]
    if not argv or argv[0] != "check":
        print("用法：python -m nlp.corpus check [语料文件] [--sources 来源文件夹]", file=sys.stderr)
        return 2
    try:
        return check(argv[1] if len(argv) > 1 else None, sources=sources)
    except UserError as e:
        print(f"错误：{e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
