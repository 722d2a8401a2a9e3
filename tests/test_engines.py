"""Parquet in and out, and the Dask engine giving the same labels as the local engine."""

import pandas as pd

from conftest import ROOT, run_classify

LABELS = ["质量", "低质原因", "质量分", "维度", "作为类型", "东丽类别", "盐山类别"]


def _rows(n: int) -> pd.DataFrame:
    base = pd.read_csv(ROOT / "examples" / "clues.csv", dtype=str, keep_default_na=False)
    return pd.concat([base] * (n // len(base) + 1), ignore_index=True).iloc[:n]


def test_parquet_in_and_out(tmp_path, runner, trained):
    src = tmp_path / "in.parquet"
    _rows(20).to_parquet(src)
    out = tmp_path / "out.parquet"
    r = run_classify(runner, src, "-o", out, "--models", trained)
    assert r.exit_code == 0, r.output
    got = pd.read_parquet(out)
    assert len(got) >= 20 and got["质量分"].dtype.kind == "i"
    assert set(got["质量"]) <= {"合格", "低质"}
    # the same rows through CSV give the same labels
    csv_in, csv_out = tmp_path / "in.csv", tmp_path / "out.csv"
    _rows(20).to_csv(csv_in, index=False)
    assert run_classify(runner, csv_in, "-o", csv_out, "--models", trained).exit_code == 0
    want = pd.read_csv(csv_out, dtype=str, keep_default_na=False)
    for c in LABELS:
        assert got[c].fillna("").astype(str).tolist() == want[c].tolist(), c


def test_broken_parquet_is_refused(tmp_path, runner, trained):
    bad = tmp_path / "bad.parquet"
    bad.write_bytes(b"PAR1 not really parquet PAR1")
    out = tmp_path / "o.csv"
    r = run_classify(runner, bad, "-o", out, "--models", trained)
    assert r.exit_code != 0 and "Parquet" in r.output and "Traceback" not in r.output
    assert not out.exists()


def test_dask_engine_matches_local(tmp_path, runner, trained):
    parts = tmp_path / "parts"
    parts.mkdir()
    rows = _rows(30)
    rows.iloc[:15].to_csv(parts / "a.csv", index=False)
    rows.iloc[15:].to_csv(parts / "b.csv", index=False)
    rows.to_csv(tmp_path / "all.csv", index=False)
    local = tmp_path / "local.csv"
    assert run_classify(runner, tmp_path / "all.csv", "-o", local, "--models", trained).exit_code == 0
    out = tmp_path / "out"
    r = run_classify(runner, parts, "-o", out, "--engine", "dask", "--workers", "2", "--models", trained)
    assert r.exit_code == 0, r.output
    got = pd.read_parquet(out)
    want = pd.read_csv(local, dtype=str, keep_default_na=False)
    assert len(got) == len(want) >= 30  # a bulletin splits into its cases
    for c in LABELS:
        assert got[c].fillna("").astype(str).tolist() == want[c].tolist(), c
    assert not [p for p in tmp_path.iterdir() if ".tmp-" in p.name]


def test_dask_engine_refuses_other_formats(tmp_path, runner, trained):
    src = tmp_path / "in.jsonl"
    src.write_text('{"text": "某县住建局三个月不处理违建投诉"}\n', encoding="utf-8")
    r = run_classify(runner, src, "-o", tmp_path / "out", "--engine", "dask", "--models", trained)
    assert r.exit_code != 0 and "CSV 或 Parquet" in r.output and "Traceback" not in r.output
