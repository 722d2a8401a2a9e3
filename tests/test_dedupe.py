"""重复件: classify.py --dedupe / --base, the clue base and the pairs file."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import textwrap

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, SHARED, run_classify

PAIRS = ROOT / "corpora" / "duplicates.csv"
CELL = re.compile(r"^[^|()]+\(\d\.\d\d\)(\|[^|()]+\(\d\.\d\d\))*$")


@pytest.fixture(scope="module")
def pairs():
    return pd.read_csv(PAIRS, dtype={"a": str, "b": str})


def tellings(pairs, group):
    """The two matters of a pair group: (tellings of matter A, tellings of matter B)."""
    g = pairs[pairs["group"] == group]
    neg = g[g["same"] == 0]
    return list(dict.fromkeys(neg["a"])), list(dict.fromkeys(neg["b"]))


def test_batch_groups_repeats_and_keeps_similar_matters_apart(runner, trained, tmp_path, pairs):
    matters = [tellings(pairs, g) for g in ("G101", "G113", "G305")]
    texts, matter = [], []
    for k, (a, b) in enumerate(matters):
        texts += a + b
        matter += [f"{k}A"] * len(a) + [f"{k}B"] * len(b)
    ids = [f"C{i:04d}" for i in range(len(texts))]
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    pd.DataFrame({"线索编号": ids, "text": texts}).to_csv(src, index=False)
    # several chunks and two workers: the fingerprints are computed in the worker processes
    r = run_classify(runner, src, "-o", out, "--models", trained, "--dedupe", "--chunk-size", "4", "--workers", "2")
    assert r.exit_code == 0, r.output
    df = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(df.columns[:4]) == ["线索编号", "text", "重复组", "相似线索"]
    df["matter"] = matter
    grouped = df[df["重复组"] != ""]
    # every group holds one matter only: another village or unit is never folded in
    assert (grouped.groupby("重复组")["matter"].nunique() == 1).all()
    # most reports have their repeat found, and the count is in the closing summary
    assert len(grouped) >= 0.7 * len(df)
    n_groups = grouped["重复组"].nunique()
    assert f"{n_groups} 个事项有重复反映，共 {len(grouped)} 条线索" in r.output
    for cell, own in zip(df["相似线索"], df["线索编号"]):
        if cell:
            assert CELL.match(cell) and own not in cell
            assert all(i in ids for i in re.findall(r"([^|()]+)\(", cell))


def test_ids_are_excel_row_numbers_without_an_id_column(runner, trained, tmp_path):
    text = "我们村的低保名额被村主任分给了他小舅子一家，瘫痪在床的老人反倒没评上，名单也没公示。"
    src, out = tmp_path / "in.csv", tmp_path / "out.xlsx"
    pd.DataFrame({"text": [text, "县住建局窗口人员上班时间玩手机，群众排队半小时无人理睬。", text]}).to_csv(src, index=False)
    r = run_classify(runner, src, "-o", out, "--models", trained, "--dedupe")
    assert r.exit_code == 0, r.output
    df = pd.read_excel(out, dtype=str, keep_default_na=False)
    assert df["相似线索"].tolist() == ["4(1.00)", "", "2(1.00)"]  # header is row 1
    assert df["重复组"].tolist() == ["G0001", "", "G0001"]


def test_base_matches_earlier_batches_and_stays_private(runner, trained, tmp_path, pairs):
    a, b = tellings(pairs, "G201")
    base = tmp_path / "库" / "线索库.sqlite"
    first, second = tmp_path / "first.csv", tmp_path / "second.csv"
    pd.DataFrame({"id": ["A1", "B1"], "text": [a[0], b[0]]}).to_csv(first, index=False)
    pd.DataFrame({"id": ["A2", "B2", "A3"], "text": [a[1], b[1], a[2]]}).to_csv(second, index=False)
    r = run_classify(runner, first, "-o", tmp_path / "o1.csv", "--models", trained, "--base", base)
    assert r.exit_code == 0, r.output
    assert "新增 2 条，库中共 2 条" in r.output
    assert oct(os.stat(base).st_mode & 0o777) == "0o600"
    with sqlite3.connect(base) as db:
        row = db.execute("SELECT id, labels, elements FROM reports WHERE id='A1'").fetchone()
        assert '"质量"' in row[1] and '"地点"' in row[2]
    for _ in range(2):  # the second run adds nothing twice and does not match a report with itself
        r = run_classify(runner, second, "-o", tmp_path / "o2.csv", "--models", trained, "--base", base)
        assert r.exit_code == 0, r.output
        df = pd.read_csv(tmp_path / "o2.csv", dtype=str, keep_default_na=False).set_index("id")
        assert df.loc["A2", "既往相似线索"].startswith("A1(") and "B1" not in df.loc["A2", "既往相似线索"]
        assert "A" not in df.loc["B2", "既往相似线索"]
        assert "A2" not in df.loc["A2", "既往相似线索"]
    with sqlite3.connect(base) as db:
        assert db.execute("SELECT COUNT(*) FROM reports").fetchone()[0] == 5
    r = run_classify(runner, "--text", a[2], "--models", trained, "--base", base)
    assert r.exit_code == 0 and "相似的既往线索" in r.output and "A1（相似度" in r.output


def test_api_similar_and_a_killed_write_loses_nothing(tmp_path, pairs):
    """A process killed in the middle of adding a batch leaves the earlier batch intact and
    nothing of the interrupted one (one transaction per add)."""
    a, b = tellings(pairs, "G102")
    path = tmp_path / "base.sqlite"
    script = textwrap.dedent(f"""
        import os, signal, sys
        sys.path.insert(0, {str(ROOT)!r})
        from nlp.dedupe.base import ClueBase
        base = ClueBase({str(path)!r})
        base.add([{{"id": "K1", "text": {a[0]!r}}}, {{"id": "K2", "text": {b[0]!r}}}])
        calls = []
        real = base.matcher.verifier.elements
        def dying(text):
            calls.append(text)
            if len(calls) == 2:
                os.kill(os.getpid(), signal.SIGKILL)
            return real(text)
        base.matcher.verifier.elements = dying
        base.add([{{"id": "K3", "text": {a[1]!r}}}, {{"id": "K4", "text": {b[1]!r}}}])
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()
    from nlp.dedupe.base import ClueBase

    with ClueBase(path) as base:
        assert base.db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert sorted(r[0] for r in base.db.execute("SELECT id FROM reports")) == ["K1", "K2"]
        found = base.similar(a[2], k=5)
        assert found and found[0]["id"] == "K1" and set(found[0]) == {"id", "similarity", "text", "date"}
        assert all(m["id"] != "K2" for m in found)


def test_base_that_is_not_a_clue_base_is_a_clear_error(runner, trained, tmp_path):
    src, out, bad = tmp_path / "in.csv", tmp_path / "out.csv", tmp_path / "bad.sqlite"
    pd.DataFrame({"text": ["县住建局窗口人员上班时间玩手机，群众排队半小时无人理睬。"]}).to_csv(src, index=False)
    bad.write_text("这不是数据库" * 200, encoding="utf-8")
    r = run_classify(runner, src, "-o", out, "--models", trained, "--base", bad)
    assert r.exit_code == 1 and "线索库" in r.output and "Traceback" not in r.output
    assert not out.exists()


def test_canonical_numbers():
    from nlp.dedupe.fingerprint import canonical

    assert canonical("二〇二三年七月九日") == canonical("2023年7月9日") == "2023年7月9日"
    assert canonical("2024.3，補助兩萬元") == "2024年3月补助20000元"
    assert canonical("三百二十万元") == canonical("320万元")


def test_pairs_file_is_team_written_and_large_enough(pairs):
    assert (pairs["same"] == 1).sum() >= 300 and (pairs["same"] == 0).sum() >= 300
    assert set(pairs["split"]) == {"tune", "test"}
    assert not set(pairs[pairs["split"] == "tune"]["group"]) & set(pairs[pairs["split"] == "test"]["group"])
    if SHARED.exists():
        from nlp.corpus import source_texts, verbatim_runs

        texts = list(dict.fromkeys(pairs["a"].tolist() + pairs["b"].tolist()))
        assert verbatim_runs(texts, source_texts(SHARED), 15) == []


def test_shipped_settings_reach_the_target_on_held_out_pairs(pairs):
    from nlp.dedupe.matcher import Matcher

    test = pairs[pairs["split"] == "test"]
    matcher = Matcher.default()
    texts = list(dict.fromkeys(test["a"].tolist() + test["b"].tolist()))
    docs = dict(zip(texts, matcher.prepare(texts)[1]))
    pred = matcher.verifier.predict([docs[t] for t in test["a"]], [docs[t] for t in test["b"]])
    y = test["same"].to_numpy() == 1
    precision, recall = (pred & y).sum() / pred.sum(), (pred & y).sum() / y.sum()
    assert precision >= 0.95 and recall >= 0.85, (precision, recall)


def test_bulk_scoring_equals_one_pair_at_a_time(pairs):
    """The batch scores all candidate pairs at once; each must equal the one-pair similarity."""
    from nlp.dedupe.matcher import Matcher

    sample = pairs.iloc[::7]
    matcher = Matcher.default()
    texts = list(dict.fromkeys(sample["a"].tolist() + sample["b"].tolist()))
    docs = dict(zip(texts, matcher.prepare(texts)[1]))
    a, b = [docs[t] for t in sample["a"]], [docs[t] for t in sample["b"]]
    bulk = matcher.verifier.similarities(a, b)
    single = np.array([matcher.verifier.similarity(x, y) for x, y in zip(a, b)])
    assert len(bulk) == len(sample) > 50
    assert np.allclose(bulk, single, atol=1e-9)


def test_pairs_scored_in_forked_processes_give_the_same_matches(pairs):
    from nlp.dedupe.matcher import Matcher

    matcher = Matcher.default()
    texts = list(dict.fromkeys(pairs["a"].tolist()[:120] + pairs["b"].tolist()[:120]))
    sigs, docs = matcher.prepare(texts)
    cands = matcher.candidates(sigs)
    alone = matcher.verify(cands, dict(enumerate(docs)))
    scores = dict(matcher.scores)
    matcher.parallel_pairs = 10  # small enough that these pairs go to two processes
    assert len(scores) >= 2 * matcher.parallel_pairs
    forked = matcher.verify(cands, dict(enumerate(docs)), workers=2)
    assert {a: [b for b, _ in m] for a, m in forked.items()} == {a: [b for b, _ in m] for a, m in alone.items()}
    assert matcher.scores.keys() == scores.keys()
    assert all(abs(matcher.scores[k] - v) < 1e-9 for k, v in scores.items())


def test_batch_signatures_equal_datasketch():
    """The MinHash of a whole batch at once gives datasketch's own values (bases stay compatible)."""
    from datasketch import MinHash

    from nlp.dedupe import settings
    from nlp.dedupe.fingerprint import canonical, fingerprinter

    fp = fingerprinter(**settings()["fingerprint"])
    texts = ["青石村低保申请半年没人答复", "", "街", "的的的", "某县住建局2023年3月起拖延审批，群众多次白跑。",
             "abc", "青石村低保申请半年没人答复"]
    canons = [canonical(t) for t in texts]
    got = fp.signatures(canons)
    for canon, sig in zip(canons, got):
        shingles = fp.shingles(canon)
        if not shingles:
            assert (sig == np.iinfo(np.uint64).max).all()
            continue
        want = MinHash.bulk([shingles], num_perm=fp.num_perm, seed=fp.seed)[0].hashvalues.astype(np.uint64)
        assert np.array_equal(sig, want)


def test_repeat_cells_are_filled_safely_and_no_spool_is_left(runner, trained, tmp_path, pairs):
    """Ids that need quoting or would start a formula are written safely in the repeat cells; a
    clue that contains something like the run's placeholder keeps its text; the spool files of
    the single pass are gone after the run."""
    a, _ = tellings(pairs, "G101")
    texts = a[:3] + ["⟦0123456789abcdefG0⟧ 这是一条线索原文，不能被改写。"]
    ids = ["=1+1", "A,1", 'B"2', "C3"]
    src = tmp_path / "in.csv"
    pd.DataFrame({"id": ids, "text": texts}).to_csv(src, index=False)
    for suffix in (".csv", ".jsonl", ".xlsx"):
        out = tmp_path / f"out{suffix}"
        r = run_classify(runner, src, "-o", out, "--models", trained, "--dedupe", "--chunk-size", "2")
        assert r.exit_code == 0, r.output
        if suffix == ".csv":
            df = pd.read_csv(out, dtype=str, keep_default_na=False)
        elif suffix == ".jsonl":
            df = pd.read_json(out, lines=True, dtype=False).astype(object).fillna("")
        else:
            df = pd.read_excel(out, dtype=str).fillna("")
        assert df["text"].tolist()[3] == texts[3]
        similar = "|".join(df["相似线索"].tolist())
        assert "A,1(" in similar or 'B"2(' in similar
        if suffix == ".csv":  # what a spreadsheet opens never starts a formula
            assert not any(str(v).startswith("=") for v in df["相似线索"])
        if suffix == ".xlsx":
            from openpyxl import load_workbook

            assert all(c.data_type != "f" for row in load_workbook(out).worksheets[0].iter_rows() for c in row)
        assert "⟦" not in "".join(df["重复组"].tolist() + df["相似线索"].tolist())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.csv", "out.csv", "out.jsonl", "out.xlsx"]
