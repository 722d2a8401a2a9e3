"""A small seeded run of the fuzz harness (bench/fuzz.py): random texts through the Annotator and one
hostile file of each kind through classify.py: no traceback, no hang, one Chinese line per refusal."""

from __future__ import annotations

from bench import fuzz
from nlp.pipeline import Annotator
from nlp.registry import Registry


def test_random_texts_never_crash_or_hang(trained):
    found = fuzz.fuzz_texts(Annotator(Registry(trained).load()), 150, seed=11, timeout=120, longest=10_000)
    assert found["tracebacks"] == [] and found["hangs"] == 0, found


def test_hostile_files_give_output_or_one_chinese_line(trained, tmp_path, monkeypatch):
    caps = tmp_path / "limits.toml"
    caps.write_text("ratio_min_bytes = 1048576\nmax_sheet_rows = 100000\n", encoding="utf-8")
    monkeypatch.setenv("JJJC_LIMITS", str(caps))
    work = tmp_path / "files"
    work.mkdir()
    found = fuzz.fuzz_files(len(fuzz.hostile.MAKERS), seed=3, timeout=60, big=False, models=str(trained), folder=work)
    assert found["tracebacks"] == [] and found["hangs"] == [] and found["not_one_line"] == [], found
    assert found["refused"] >= 10 and found["peak_mb"] < 1024, found
