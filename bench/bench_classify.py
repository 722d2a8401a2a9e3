"""Benchmark: clues/second end to end (CSV in, CSV out) and peak memory, per segmentation backend.

    python bench/bench_classify.py [--rows 100000] [--backends rjieba,jieba] [--workers 2]

Texts are built from corpus rows (two rows joined at random), so their length is realistic;
results go to bench/out/. Peak memory is the largest resident set of the classify process
or any of its workers, measured at two file sizes to show it does not grow with the file.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"


def make_input(rows: int, path: Path, seed: int = 0) -> float:
    texts = pd.read_csv(ROOT / "corpora" / "clues.csv", dtype=str, keep_default_na=False)["text"].tolist()
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8", newline="") as fh:
        fh.write("id,text\n")
        total = 0
        for i in range(rows):
            t = rng.choice(texts)
            if rng.random() < 0.3:
                t = t + rng.choice(texts)
            total += len(t)
            fh.write(f'B{i},"{t.replace(chr(34), chr(34) * 2)}"\n')
    return total / rows


def run(path: Path, backend: str, workers: int) -> dict:
    out = OUT / f"out-{backend}-{path.stem}.csv"
    cmd = [sys.executable, str(ROOT / "classify.py"), str(path), "-o", str(out), "--backend", backend,
           "--workers", str(workers)]
    # A fresh wrapper process per run, so the peak resident set is this run's alone (the parent
    # and its workers), not the largest of every run so far.
    wrapper = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True); "
               "print('PEAK', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    t0 = time.time()
    done = subprocess.run([sys.executable, "-c", wrapper, *cmd], check=True, stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True)
    elapsed = time.time() - t0
    peak = int(re.search(r"PEAK (\d+)", done.stdout).group(1))
    # classify.py's own closing line: rows per second once the model is loaded
    steady = re.search(r"(\d+) 条/秒", done.stdout)
    rows = sum(1 for _ in path.open(encoding="utf-8")) - 1
    return {"backend": backend, "rows": rows, "workers": workers, "seconds": round(elapsed, 1),
            "clues_per_second": round(rows / elapsed),
            "clues_per_second_after_startup": int(steady.group(1)) if steady else None,
            "peak_rss_mb_max_process": round(peak / 1024)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--small", type=int, default=20_000)
    ap.add_argument("--backends", default="rjieba,jieba")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    # make sure a model exists before timing (first use trains one)
    subprocess.run([sys.executable, str(ROOT / "classify.py"), "--text", "某县民政局对低保申请长期不予答复。"],
                   check=True, stdout=subprocess.DEVNULL)
    results = []
    for n in (args.small, args.rows):
        path = OUT / f"bench-{n}.csv"
        mean_len = make_input(n, path)
        for backend in args.backends.split(","):
            r = run(path, backend, args.workers)
            r["mean_chars"] = round(mean_len)
            results.append(r)
            print(json.dumps(r, ensure_ascii=False), flush=True)
    (OUT / "classify.json").write_text(json.dumps(results, ensure_ascii=False, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
