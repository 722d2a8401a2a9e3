"""Local engine vs Dask LocalCluster on the same rows: clues/second and peak memory per process.

    python bench/bench_engines.py [--rows 1000000]

Writes bench/out/engines.json. Rows are corpus texts repeated (average ~90 characters); the input is
one Parquet file for both engines, the output Parquet.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import psutil

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"


def peak_rss(proc: subprocess.Popen) -> tuple[int, dict]:
    """Run until the process ends; return its exit code and the peak RSS (MB) of it and each child."""
    peaks: dict[int, float] = {}
    p = psutil.Process(proc.pid)

    def sample():
        while proc.poll() is None:
            try:
                for q in [p] + p.children(recursive=True):
                    try:
                        peaks[q.pid] = max(peaks.get(q.pid, 0.0), q.memory_info().rss / 2**20)
                    except psutil.Error:
                        pass
            except psutil.Error:
                pass
            time.sleep(0.5)

    t = threading.Thread(target=sample, daemon=True)
    t.start()
    code = proc.wait()
    t.join()
    ranked = sorted(peaks.values(), reverse=True)
    return code, {"max_process_mb": round(ranked[0]) if ranked else 0, "processes": len(ranked),
                  "sum_top3_mb": round(sum(ranked[:3]))}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--engines", default="local,dask")
    args = ap.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    corpus = pd.read_csv(ROOT / "corpora" / "clues.csv", dtype=str, keep_default_na=False)["text"]
    texts = (corpus.tolist() * (args.rows // len(corpus) + 1))[: args.rows]
    src = OUT / f"engines-{args.rows}.parquet"
    pd.DataFrame({"id": [f"R{i}" for i in range(len(texts))], "text": texts}).to_parquet(
        src, row_group_size=50_000)
    out = OUT / "engines.json"
    results = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    results["rows"] = args.rows
    for engine in args.engines.split(","):
        target = OUT / f"engines-{engine}.parquet"
        cmd = [sys.executable, str(ROOT / "classify.py"), str(src), "-o", str(target), "--engine", engine,
               "--no-split-cases"]
        t0 = time.time()
        code, mem = peak_rss(subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL))
        seconds = time.time() - t0
        results[engine] = {"exit": code, "seconds": round(seconds, 1),
                           "clues_per_second": round(args.rows / seconds), **mem}
        print(engine, results[engine], flush=True)
    out.write_text(json.dumps(results, indent=2), encoding="utf-8")


if __name__ == "__main__":
    main()
