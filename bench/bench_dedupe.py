"""Benchmark of 重复件 (classify.py --dedupe, the clue base).

    python bench/bench_dedupe.py [--rows 100000] [--base-rows 1000000] [--skip-batch] [--skip-base]

1. Batch: classify.py on --rows synthetic clues (or, with --team, on the 4,870 team-written
   texts of the corpus and the pairs file) with and without --dedupe (2 workers): the added time
   should stay within 50 %.
2. Base: a clue base of --base-rows synthetic reports (built with ClueBase.add, 20,000 a
   transaction): build time, file size, and the latency of ClueBase.similar for 1,000 look-ups
   (half of them re-tellings of a stored report: how many of those are found is reported too).

Synthetic clues are made of corpus clauses (the first clauses of one row, the last of another,
a village name in front, other numbers); one in ten re-tells an earlier one (a clause dropped,
two clauses swapped). Results go to bench/out/dedupe.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
sys.path.insert(0, str(ROOT))

_CHARS = "青石柳河白沙桃园杏花马鞍牛角龙潭凤凰金沟银河双井红旗东岗竹林沙坪李家周岭古城新城红岩白马三岔清水"
_SUFFIX = ["村"]


def retell(text: str, rng: random.Random) -> str:
    parts = [p for p in re.split(r"[，。；]", text) if p]
    if len(parts) > 2:
        parts.pop(rng.randrange(1, len(parts)))
    if len(parts) > 2 and rng.random() < 0.5:
        parts[1], parts[2] = parts[2], parts[1]
    return "，".join(parts) + "。"


def synthetic(n: int, seed: int = 0):
    """n synthetic clues: (text, index of the clue it re-tells or -1)."""
    corpus = pd.read_csv(ROOT / "corpora" / "clues.csv", dtype=str, keep_default_na=False)["text"].tolist()
    rng = random.Random(seed)
    made: list[str] = []
    for i in range(n):
        if made and rng.random() < 0.1:
            src = rng.randrange(max(0, len(made) - 5000), len(made))  # repeats come close in time
            text = retell(made[src], rng)
            made.append(text)
            yield text, src
            continue
        place = "".join(rng.sample(_CHARS, 2)) + rng.choice(_SUFFIX)
        first, second = (re.split(r"[，。；]", rng.choice(corpus)) for _ in range(2))
        clauses = [c for c in first[:rng.randint(2, 4)] + second[-rng.randint(1, 2):] if c]
        text = re.sub(r"\d+", lambda m: str(rng.randint(2, 999)), "，".join(clauses)) + "。"
        text = f"{place}{text}"
        made.append(text)
        yield text, -1


def team_texts() -> list[str]:
    """Every team-written text: the corpus and both sides of the repeat pairs."""
    texts = pd.read_csv(ROOT / "corpora" / "clues.csv", dtype=str, keep_default_na=False)["text"].tolist()
    pairs = pd.read_csv(ROOT / "corpora" / "duplicates.csv", dtype=str, keep_default_na=False)
    return list(dict.fromkeys(texts + pairs["a"].tolist() + pairs["b"].tolist()))


def bench_batch(rows: int, workers: int, team: bool = False) -> dict:
    texts = team_texts() if team else [t for t, _ in synthetic(rows)]
    rows = len(texts)
    path = OUT / f"dedupe-{'team' if team else rows}.csv"
    pd.DataFrame({"id": [f"D{i}" for i in range(rows)], "text": texts}).to_csv(path, index=False)
    subprocess.run([sys.executable, str(ROOT / "classify.py"), "--text", "某县民政局对低保申请长期不予答复。"],
                   check=True, stdout=subprocess.DEVNULL)
    times = {}
    for mode, extra in (("plain", []), ("dedupe", ["--dedupe"])):
        out = OUT / f"dedupe-out-{mode}.csv"
        t0 = time.time()
        done = subprocess.run([sys.executable, str(ROOT / "classify.py"), str(path), "-o", str(out),
                               "--workers", str(workers), *extra], check=True, capture_output=True, text=True)
        times[mode] = round(time.time() - t0, 1)
        if mode == "dedupe":
            summary = [line for line in done.stdout.splitlines() if line.startswith("重复件")]
            df = pd.read_csv(out, dtype=str, keep_default_na=False, usecols=["id", "重复组"])
            grouped = int((df["重复组"] != "").sum())
    return {"input": "team-written texts" if team else "synthetic", "rows": rows, "workers": workers, "seconds_plain": times["plain"], "seconds_dedupe": times["dedupe"],
            "added_percent": round(100 * (times["dedupe"] / times["plain"] - 1), 1),
            "rows_in_a_group": grouped, "summary": summary[0] if summary else ""}


def bench_base(rows: int, lookups: int = 1000) -> dict:
    from nlp.dedupe.base import ClueBase

    path = OUT / "dedupe-base.sqlite"
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{path}{suffix}").exists():
            os.unlink(f"{path}{suffix}")
    base = ClueBase(path)
    t0 = time.time()
    kept: list[str] = []  # a sample of stored texts to re-tell in the look-ups
    rng = random.Random(1)
    batch = []
    for i, (text, _) in enumerate(synthetic(rows, seed=7)):
        batch.append({"id": f"K{i}", "text": text, "date": "2026-01-01"})
        if rng.random() < 2 * lookups / rows:
            kept.append(text)
        if len(batch) == 20_000:
            base.add(batch)
            batch = []
            print(f"  {i + 1} stored, {time.time() - t0:.0f} s", file=sys.stderr, flush=True)
    if batch:
        base.add(batch)
    build = time.time() - t0
    base.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    base.close()
    return {"build_seconds": round(build), **measure_lookups(path, kept, lookups)}


def measure_lookups(path: Path, kept: list[str] | None = None, lookups: int = 1000) -> dict:
    """Latency of ClueBase.similar on the base at ``path``; half the look-ups re-tell stored texts
    (``kept``, or a sample read from the base)."""
    from nlp.dedupe.base import ClueBase

    rng = random.Random(1)
    base = ClueBase(path)
    reports = len(base)
    if kept is None:
        rids = [rng.randint(1, reports) for _ in range(lookups // 2)]
        kept = [base.db.execute("SELECT text FROM reports WHERE rid=?", (r,)).fetchone()[0] for r in rids]
    size = sum(os.path.getsize(f"{path}{x}") for x in ("", "-wal") if Path(f"{path}{x}").exists())
    queries = [(retell(t, rng), True) for t in kept[:lookups // 2]]
    queries += [(t, False) for t, _ in synthetic(lookups - len(queries), seed=99)]
    base.similar(queries[0][0])  # warm up
    latency, found = [], 0
    for text, is_repeat in queries:
        t = time.perf_counter()
        hits = base.similar(text, k=5)
        latency.append(1000 * (time.perf_counter() - t))
        found += bool(is_repeat and hits)
    base.close()
    repeats = sum(r for _, r in queries)
    return {"reports": reports, "db_mb": round(size / 2 ** 20),
            "lookups": len(queries), "p50_ms": round(float(np.percentile(latency, 50)), 1),
            "p99_ms": round(float(np.percentile(latency, 99)), 1), "max_ms": round(max(latency), 1),
            "retellings_found": f"{found}/{repeats}"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--base-rows", type=int, default=1_000_000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--skip-batch", action="store_true")
    ap.add_argument("--skip-base", action="store_true")
    ap.add_argument("--team", action="store_true", help="batch of the team-written texts instead of synthetic ones")
    ap.add_argument("--lookups-only", type=Path, help="only measure look-ups on an existing base file")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    saved = OUT / "dedupe.json"
    result = json.loads(saved.read_text(encoding="utf-8")) if saved.exists() else {}
    if args.lookups_only:
        print(json.dumps(measure_lookups(args.lookups_only), ensure_ascii=False))
        return
    if not args.skip_batch:
        key = "batch_team" if args.team else "batch"
        result[key] = bench_batch(args.rows, args.workers, args.team)
        print(json.dumps(result[key], ensure_ascii=False), flush=True)
    if not args.skip_base:
        result["base"] = bench_base(args.base_rows)
        print(json.dumps(result["base"], ensure_ascii=False), flush=True)
    saved.write_text(json.dumps(result, ensure_ascii=False, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
