"""Text that used to hang or crash a run: long runs (linear-time patterns), lone surrogates."""

from __future__ import annotations

import time

from nlp.normalize import normalize
from nlp.pipeline import Annotator
from nlp.registry import Registry


def test_long_runs_and_surrogates_through_the_annotator(trained):
    annotator = Annotator(Registry(trained).load())
    for run in ("1", "一", "某", "局", "(", "1.", "3元"):
        t0 = time.time()
        out = annotator.annotate_texts([run * (100_000 // len(run))])
        assert len(out) == 1
        assert time.time() - t0 < 30, run  # was minutes (quadratic patterns); generous bound for busy CI
    out = annotator.annotate_texts(["某县民政局\udc80对低保申请长期不予答复\ud800"])
    assert len(out) == 1 and out["质量"].iloc[0] in ("合格", "低质")
    assert "\ufffd" in normalize("a\udc80b") and normalize(normalize("a\udc80b")) == normalize("a\udc80b")


# ---------------------------------------------------------------- hostile files through the CLI
import errno  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from conftest import run_classify, run_train  # noqa: E402

from bench import hostile  # noqa: E402


@pytest.fixture()
def low_caps(tmp_path, monkeypatch):
    """Caps lowered through the data file's override, so small files show the big attacks."""
    caps = tmp_path / "limits.toml"
    caps.write_text("ratio_min_bytes = 1048576\nmax_sheet_rows = 100000\n", encoding="utf-8")
    monkeypatch.setenv("JJJC_LIMITS", str(caps))


def _refused(r, *words):
    assert r.exit_code in (1, 2) and isinstance(r.exception, SystemExit), r.output
    lines = [x for x in r.output.splitlines() if x.strip() and not x.startswith("分类")]  # tqdm's bar on a slow run
    assert len(lines) == 1 and lines[0].startswith("错误："), r.output
    for w in words:
        assert w in r.output, r.output


@pytest.mark.parametrize("maker,words", [
    (hostile.zip_bomb, ("压缩炸弹",)),
    (hostile.empty_rows, ("100000 行",)),
    (hostile.big_cell, ("第 2 行", "500000 个字符")),
    (hostile.many_columns, ("20001 列",)),
])
def test_hostile_files_refused_up_front(runner, trained, tmp_path, low_caps, maker, words):
    src, args = maker(tmp_path, rng=random.Random(1))
    out = tmp_path / "out.xlsx"
    _refused(run_classify(runner, src, "-o", out, *args, "--models", trained), *words)
    assert not out.exists() and not list(tmp_path.glob(".out.xlsx.*"))


def test_long_cells_and_false_dimensions_are_read(runner, trained, tmp_path):
    for maker in (hostile.long_digits, hostile.huge_dimension):
        src, _ = maker(tmp_path)
        out = tmp_path / "out.csv"
        r = run_classify(runner, src, "-o", out, "--models", trained)
        assert r.exit_code == 0, r.output
        assert len(pd.read_csv(out, dtype=str)) == 1


def test_xlsx_output_wider_than_excel_allows(runner, trained, tmp_path, monkeypatch):
    caps = tmp_path / "limits.toml"
    caps.write_text("max_columns = 20000\n", encoding="utf-8")
    monkeypatch.setenv("JJJC_LIMITS", str(caps))
    src, out = tmp_path / "wide.csv", tmp_path / "out.xlsx"
    src.write_text(",".join(["text"] + [f"c{i}" for i in range(16_400)]) + "\n" + hostile.CLUE + "," * 16_400 + "\n",
                   encoding="utf-8")
    _refused(run_classify(runner, src, "-o", out, "--models", trained), "16,384")
    assert not out.exists()


def test_hostile_json_lines(runner, trained, tmp_path):
    src, out = tmp_path / "in.jsonl", tmp_path / "out.csv"
    for line, word in (('{"text": "x", "n": ' + "9" * 5000 + "}", "超长数字"),
                       ("[" * 100_000 + "]" * 100_000, "嵌套层数过深")):
        src.write_text(line + "\n", encoding="utf-8")
        _refused(run_classify(runner, src, "-o", out, "--models", trained), "第 1 行", word)
    src.write_text('{"text": "某县民政局\\udc80对低保申请长期不予答复\\ud800"}\n', encoding="utf-8")
    for target in (out, tmp_path / "out.xlsx", tmp_path / "out.jsonl"):
        r = run_classify(runner, src, "-o", target, "--models", trained)
        assert r.exit_code == 0, r.output
    assert "\ufffd" in pd.read_csv(out, dtype=str)["text"].iloc[0]
    r = run_classify(runner, "--text", "某县民政局\udc80对低保申请长期不予答复", "--models", trained)
    assert r.exit_code == 0, r.output


def test_bad_arguments_and_places(runner, trained, tmp_path, monkeypatch):
    src = tmp_path / "in.csv"
    src.write_text(f"text\n{hostile.CLUE}\n", encoding="utf-8")
    _refused(run_classify(runner, src, "-o", tmp_path / "o.csv", "--chunk-size", "0", "--models", trained), "--chunk-size")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    _refused(run_classify(runner, src, "-o", blocker / "o.csv", "--models", trained), "文件读写失败")
    # a full disk: the flush before the rename fails as the kernel would report it
    import nlp.writers

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    monkeypatch.setattr(nlp.writers.os, "fsync", full)
    _refused(run_classify(runner, src, "-o", tmp_path / "o.xlsx", "--models", trained), "磁盘空间不足")
    assert not list(tmp_path.glob("*o.xlsx*"))


def test_mistyped_models_folder_is_not_created(runner, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text(f"text\n{hostile.CLUE}\n", encoding="utf-8")
    missing = tmp_path / "modles"
    _refused(run_classify(runner, src, "-o", tmp_path / "o.csv", "--models", missing), "不存在")
    for extra in (["--list"], ["--add", src], ["--rollback"]):
        _refused(run_train(runner, "--models", missing, *extra), "不存在")
    assert not missing.exists()


def test_temporaries_private_and_stale_ones_removed(runner, trained, tmp_path, monkeypatch):
    import tempfile

    src, out = tmp_path / "in.csv", tmp_path / "out.xlsx"
    src.write_text(f"text\n{hostile.CLUE}\n", encoding="utf-8")
    dead = 2 ** 22 + 7  # no such process
    stale = [tmp_path / f".out.xlsx.{dead}.abcd1234.tmp", tmp_path / ".out.csv.k2j4h5g6.tmp"]
    for p in stale:
        p.write_text("clue text")
    (tmp_path / f".out.xlsx.{dead}.zyxw9876.tmp").mkdir()
    keep = tmp_path / f".out.xlsx.{os.getppid()}.live1234.tmp"  # a live process's: kept
    keep.write_text("x")
    seen = {}
    before = tempfile.tempdir
    import openpyxl.worksheet._writer as writer

    real = writer.create_temporary_file

    def spy(suffix=""):
        name = real(suffix)
        seen[name] = (os.path.dirname(name), os.stat(os.path.dirname(name)).st_mode & 0o777)
        return name
    monkeypatch.setattr(writer, "create_temporary_file", spy)
    r = run_classify(runner, src, "-o", out, "--models", trained)
    assert r.exit_code == 0, r.output
    assert seen and all(d.startswith(str(tmp_path)) and mode == 0o700 for d, mode in seen.values())
    assert not any(os.path.exists(n) for n in seen) and tempfile.tempdir == before
    assert not any(p.exists() for p in stale) and keep.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(["in.csv", "out.xlsx", keep.name])


def test_low_quality_paragraphs_have_a_reason(trained):
    from nlp.pipeline import Annotator

    from pathlib import Path
    doc = (Path(__file__).parent / "data" / "policy_doc.txt").read_text(encoding="utf-8")
    out = Annotator(Registry(trained).load()).annotate(pd.DataFrame({"text": [doc + "\n好的。\n嗯嗯，收到。"]}), "text")
    parts = out[out["文本类型"] == "文件段落"]
    low = parts[parts["质量"] == "低质"]
    assert len(low) and (low["低质原因"] != "").all()
