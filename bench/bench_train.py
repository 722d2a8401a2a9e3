"""Benchmark: training time and peak memory for the shipped corpus and for 10x it.

    python bench/bench_train.py [--factor 10]

The 10x corpus repeats every row ten times with a small variation in the text (so feature
counts grow as with real data); it goes to bench/out/ with its own models folder.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
SUFFIXES = ["", "（来电）", "（网络留言）", "，请核实", "。望答复", "（匿名）", "，情况属实", "（补充）", "（转办）", "，特此反映"]


def train(corpus: Path) -> dict:
    with tempfile.TemporaryDirectory() as models:
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t0 = time.time()
        subprocess.run([sys.executable, str(ROOT / "train.py"), "--corpus", str(corpus), "--models", models],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        elapsed = time.time() - t0
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    rows = len(pd.read_csv(corpus, dtype=str))
    return {"rows": rows, "seconds": round(elapsed, 1), "peak_rss_mb": round(max(peak, before) / 1024)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--factor", type=int, default=10)
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    shipped = ROOT / "corpora" / "clues.csv"
    results = [train(shipped)]
    print(json.dumps(results[-1], ensure_ascii=False), flush=True)
    df = pd.read_csv(shipped, dtype=str, keep_default_na=False)
    big = pd.concat([df.assign(text=df["text"] + SUFFIXES[k % len(SUFFIXES)] * (1 + k // len(SUFFIXES)),
                               id=df["id"] + f"-{k}") for k in range(args.factor)], ignore_index=True)
    path = OUT / f"clues-x{args.factor}.csv"
    big.to_csv(path, index=False)
    results.append(train(path))
    print(json.dumps(results[-1], ensure_ascii=False), flush=True)
    (OUT / "train.json").write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
