"""Fuzzing: random texts through the Annotator and hostile files through classify.py, bounded in time.

    .venv/bin/python bench/fuzz.py                       # 10,000 texts, 250 files (the target)
    .venv/bin/python bench/fuzz.py --texts 300 --files 20 --small

Reports tracebacks, hangs (a text or a file taking longer than --timeout seconds) and peak memory.
Each file runs in a forked process (so a hang is killed and its peak memory is its own) through
the same command line a user calls; files come from bench/hostile.py (full-size attacks unless
--small). Exit status 1 if anything crashed or hung, or peak memory passed 1 GB.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import hostile  # noqa: E402

PIECES = [hostile.CLUE, "（一）", "（二）", "1.", "2、", "一、", "经查：", "<p>", "</div>", "&amp;lt;", "擔(dān)",
          "2023年3月", "3.5万元", "=HYPERLINK(\"x\")", "\r\n", "\t", "\u200b", "\ufeff", "😀", "\udc80", "\ud800",
          "某", "一", "1", "元", "月", "。", "；", "：", "\n", " ", "Ω", "ア", "한", "\x00", "\x1b", "\uffff"]


def random_text(rng: random.Random, longest: int = 50_000) -> str:
    kind = rng.random()
    if kind < 0.02:  # a long run of one piece (the patterns must stay linear), at most ``longest`` characters
        piece = rng.choice(PIECES)
        return piece * max(1, rng.randrange(1000, longest) // len(piece))
    if kind < 0.3:  # random code points, surrogates and controls included
        return "".join(chr(rng.randrange(0x110000)) for _ in range(rng.randrange(0, 300)))
    return "".join(rng.choice(PIECES) for _ in range(rng.randrange(0, 200)))


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


def fuzz_texts(annotator, n: int, seed: int, timeout: float, longest: int = 50_000) -> dict:
    """Run in a forked process: a hang interrupted by SIGALRM may leave a half-built table behind,
    and that must not leak into the caller (a test session, say)."""
    found, hung, peak, seconds = _forked(lambda: _texts(annotator, n, seed, timeout, longest), None)
    found = found or {"texts": n, "tracebacks": ["the text fuzzer died"], "hangs": 0, "slowest_s": 0.0}
    found.update(peak_mb=peak, seconds=seconds)
    return found


def _texts(annotator, n: int, seed: int, timeout: float, longest: int) -> dict:
    import pandas as pd

    from nlp.io import render_rows

    rng = random.Random(seed)
    found = {"texts": n, "tracebacks": [], "hangs": 0, "slowest_s": 0.0}
    signal.signal(signal.SIGALRM, _alarm)
    for i in range(n):
        if i and i % 1000 == 0:
            print(f"texts: {i}/{n}, {len(found['tracebacks'])} tracebacks, {found['hangs']} hangs", file=sys.stderr)
        text = random_text(rng, longest)
        t0 = time.time()
        signal.alarm(int(timeout) + 1)
        try:
            out = annotator.annotate(pd.DataFrame({"id": [str(i)], "text": [text]}, dtype=object), "text")  # as read
            render_rows(out, "csv").encode("utf-8")
            render_rows(out, "jsonl").encode("utf-8")
        except Hang:
            pass  # counted below: the text took longer than the timeout
        except Exception as e:  # noqa: BLE001 - what the fuzzer is for
            found["tracebacks"].append(f"text {i}: {type(e).__name__}: {str(e)[:120]}")
        finally:
            signal.alarm(0)
        elapsed = time.time() - t0
        found["slowest_s"] = max(found["slowest_s"], round(elapsed, 2))
        if elapsed > timeout:
            found["hangs"] += 1
            found.setdefault("hung", []).append(f"text {i}: {len(text)} characters, {elapsed:.0f} s, {text[:6]!r}…")
    return found


def _forked(job, timeout: float | None) -> tuple[dict | None, bool, int, float]:
    """``job()`` in a forked process: (its JSON-able result or None, hung?, peak MB, seconds).
    The result travels through a temporary file, so a large report cannot block a pipe."""
    fd, report = tempfile.mkstemp(suffix=".json")
    os.close(fd)
    t0 = time.time()
    pid = os.fork()
    if pid == 0:  # the child: run, report, exit without running the parent's cleanup
        try:
            result = job()
        except BaseException as e:  # noqa: BLE001
            result = {"code": -1, "crash": True, "exc": repr(e)[:160], "lines": 0}
        Path(report).write_text(json.dumps(result, ensure_ascii=False), encoding="utf-8")
        os._exit(0)
    hung = False
    while True:
        done, _status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            break
        if timeout is not None and time.time() - t0 > timeout:
            os.kill(pid, signal.SIGKILL)
            _, _status, usage = os.wait4(pid, 0)
            hung = True
            break
        time.sleep(0.02)
    raw = Path(report).read_text(encoding="utf-8")
    os.unlink(report)
    return (json.loads(raw) if raw else None), hung, usage.ru_maxrss // 1024, round(time.time() - t0, 1)


def run_file(src: Path, args: list[str], models: str | None, timeout: float) -> dict:
    """classify.py on one file in a forked process: exit code, traceback?, time, peak memory."""
    from typer.testing import CliRunner

    from nlp.cli import classify_app

    out = src.parent / random.Random(str(src)).choice(["out.csv", "out.xlsx", "out.jsonl"])
    argv = [str(src), "-o", str(out), "--workers", "1", *args] + (["--models", models] if models else [])

    def job():
        res = CliRunner().invoke(classify_app, argv)
        crash = res.exception is not None and not isinstance(res.exception, SystemExit)
        return {"code": res.exit_code, "crash": crash,
                "exc": f"{type(res.exception).__name__}: {str(res.exception)[:160]}" if crash else "",
                "lines": len([x for x in res.output.splitlines() if x.startswith("错误：")])}

    msg, hung, peak, seconds = _forked(job, timeout)
    msg = msg or {"code": -9, "crash": not hung, "exc": "no report", "lines": 0}
    msg.update(file=src.name, args=args, hung=hung, seconds=seconds, peak_mb=peak)
    return msg


def fuzz_files(n: int, seed: int, timeout: float, big: bool, models: str | None, folder: Path) -> dict:
    rng = random.Random(seed)
    results = []
    for i in range(n):
        maker = hostile.MAKERS[i % len(hostile.MAKERS)]
        d = folder / f"{i:04d}"
        d.mkdir()
        try:
            src, args = maker(d, rng=rng, big=big)
            results.append(run_file(src, args, models, timeout))
            if (i + 1) % 25 == 0:
                print(f"files: {i + 1}/{n}", file=sys.stderr)
        finally:
            for p in sorted(d.rglob("*"), reverse=True):
                p.rmdir() if p.is_dir() else p.unlink()
            d.rmdir()
    return {"files": n, "tracebacks": [f"{r['file']}: {r['exc']}" for r in results if r["crash"]],
            "hangs": [r["file"] for r in results if r["hung"]],
            "not_one_line": [r["file"] for r in results if r["code"] not in (0,) and r["lines"] != 1 and not r["hung"]],
            "peak_mb": max((r["peak_mb"] for r in results), default=0),
            "slowest_s": max((r["seconds"] for r in results), default=0.0),
            "refused": sum(r["code"] != 0 for r in results)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texts", type=int, default=10_000)
    ap.add_argument("--files", type=int, default=250)
    ap.add_argument("--seed", type=int, default=20261207)
    ap.add_argument("--timeout", type=float, default=30.0)
    ap.add_argument("--small", action="store_true", help="small hostile files (the shapes, not the sizes)")
    ap.add_argument("--models", default=None, help="models folder (default models/)")
    a = ap.parse_args(argv)
    from nlp.cli_common import ensure_model
    from nlp.pipeline import Annotator
    from nlp.registry import Registry

    annotator = Annotator(ensure_model(Registry(a.models))).warm_up()
    t0 = time.time()
    texts = fuzz_texts(annotator, a.texts, a.seed, a.timeout)
    texts["seconds"] = round(time.time() - t0, 1)
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        files = fuzz_files(a.files, a.seed, a.timeout, not a.small, a.models, Path(tmp))
    files["seconds"] = round(time.time() - t0, 1)
    print(json.dumps({"texts": texts, "files": files}, ensure_ascii=False, indent=2))
    bad = (texts["tracebacks"] or texts["hangs"] or files["tracebacks"] or files["hangs"] or files["not_one_line"]
           or max(texts["peak_mb"], files["peak_mb"]) > 1024)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
