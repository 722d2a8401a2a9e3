"""Benchmark: the 受理台's single-clue latency over HTTP on loopback.

    python bench/bench_serve.py [--requests 1000] [--clients 20] [--duration 60] [--workers 2]

Starts serve.py (the current model, a temporary data folder) on a free 127.0.0.1 port, then
1. sends --requests single-clue POST /api/v1/classify requests one after another (after a
   warm-up) and reports p50/p99 latency;
2. runs --clients concurrent clients for --duration seconds (each loop bounded in count and
   time) and reports throughput, p50/p99 latency and errors.
Clues are corpus texts. Every request goes to 127.0.0.1 only; results go to bench/out/serve.json.
Targets on 2 cores: p50 <= 30 ms, p99 <= 150 ms, no errors.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
HOST = "127.0.0.1"
MAX_PER_CLIENT = 200_000  # a hard bound on each client's loop besides the time limit


def percentile(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))] if s else float("nan")


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def start_server(port: int, data: Path, workers: int) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, str(ROOT / "serve.py"), "--port", str(port), "--data", str(data),
                             "--workers", str(workers)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection(HOST, port, timeout=2)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return proc
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.3)
    proc.kill()
    raise SystemExit("受理台没有启动（先运行一次 classify.py 或 train.py 训练默认模型）。")


def one(conn: http.client.HTTPConnection, text: str) -> tuple[float, bool]:
    body = json.dumps({"texts": [text]}, ensure_ascii=False).encode("utf-8")
    t0 = time.perf_counter()
    conn.request("POST", "/api/v1/classify", body=body, headers={"Content-Type": "application/json"})
    res = conn.getresponse()
    data = res.read()
    dt = time.perf_counter() - t0
    return dt, res.status == 200 and b'"results"' in data


def sequential(port: int, texts: list[str], n: int) -> dict:
    conn = http.client.HTTPConnection(HOST, port, timeout=30)
    rng = random.Random(1)
    for _ in range(50):  # warm-up
        one(conn, rng.choice(texts))
    times, errors = [], 0
    for _ in range(n):
        dt, ok = one(conn, rng.choice(texts))
        times.append(dt)
        errors += not ok
    return {"requests": n, "errors": errors, "p50_ms": round(1000 * percentile(times, 0.5), 1),
            "p99_ms": round(1000 * percentile(times, 0.99), 1), "mean_ms": round(1000 * sum(times) / n, 1)}


def concurrent(port: int, texts: list[str], clients: int, duration: float) -> dict:
    times: list[float] = []
    counts: list[int] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.time() + duration

    def client(seed: int):
        rng = random.Random(seed)
        conn = http.client.HTTPConnection(HOST, port, timeout=30)
        mine, bad = [], 0
        for _ in range(MAX_PER_CLIENT):
            if time.time() >= stop:
                break
            try:
                dt, ok = one(conn, rng.choice(texts))
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection(HOST, port, timeout=30)
                dt, ok = 0.0, False
            mine.append(dt)
            bad += not ok
        with lock:
            times.extend(mine)
            counts.append(len(mine))
            errors[0] += bad

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    t0 = time.time()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.time() - t0
    return {"clients": clients, "seconds": round(elapsed, 1), "requests": len(times), "errors": errors[0],
            "per_second": round(len(times) / elapsed, 1), "p50_ms": round(1000 * percentile(times, 0.5), 1),
            "p99_ms": round(1000 * percentile(times, 0.99), 1), "per_client": sorted(counts)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=20)
    ap.add_argument("--duration", type=float, default=60)
    ap.add_argument("--workers", type=int, default=2, help="serve.py --workers")
    args = ap.parse_args()
    texts = pd.read_csv(ROOT / "corpora" / "clues.csv", dtype=str, keep_default_na=False)["text"].tolist()
    port = free_port()
    with tempfile.TemporaryDirectory() as data:
        proc = start_server(port, Path(data), args.workers)
        try:
            result = {"sequential": sequential(port, texts, args.requests),
                      "concurrent": concurrent(port, texts, args.clients, args.duration),
                      "workers": args.workers, "load_average_after": list(os.getloadavg()),
                      "mean_text_chars": round(sum(map(len, texts)) / len(texts), 1)}
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "serve.json").write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    s, c = result["sequential"], result["concurrent"]
    print(f"单条顺序 {s['requests']} 次：p50 {s['p50_ms']} ms，p99 {s['p99_ms']} ms，错误 {s['errors']}")
    print(f"{c['clients']} 个并发客户端 {c['seconds']} 秒：{c['requests']} 次（{c['per_second']} 次/秒），"
          f"p50 {c['p50_ms']} ms，p99 {c['p99_ms']} ms，错误 {c['errors']}")


if __name__ == "__main__":
    main()
