"""受理台 HTTP API through FastAPI's test client: classify, files, errors, security, login, and the
review round trip into train.py --add."""

from __future__ import annotations

import io
import logging
import re
import sqlite3
import stat

import openpyxl
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from conftest import ROOT, run_classify, run_train
from nlp.service.server import build, serve_app
from nlp.taxonomy import load_taxonomy

CLUE = "2024年3月，某县住建局对群众反映的小区违建问题三个月不予处理，多次投诉无人答复，造成群众损失。"
BASE = "http://127.0.0.1"


@pytest.fixture(scope="module")
def desk(trained, tmp_path_factory):
    data = tmp_path_factory.mktemp("desk")
    return TestClient(build(data, models=trained), base_url=BASE), data


@pytest.fixture(scope="module")
def client(desk):
    return desk[0]


def test_classify_result_is_a_classify_py_row(client, runner, trained, tmp_path):
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    pd.DataFrame({"id": ["A1", "A2"], "text": [CLUE, "某区"]}).to_csv(src, index=False)
    assert run_classify(runner, src, "-o", out, "--models", trained).exit_code == 0
    rows = pd.read_csv(out, dtype=str, keep_default_na=False).to_dict("records")
    r = client.post("/api/v1/classify", json={"items": [{"id": "A1", "text": CLUE}, {"id": "A2", "text": "某区"}]})
    assert r.status_code == 200
    results = r.json()["results"]
    assert [x["id"] for x in results] == ["A1", "A2"]
    for api_row, cli_row in zip(results, rows):
        assert set(cli_row) <= set(api_row)
        for col in ("质量", "低质原因", "质量分", "缺失要素", "维度", "作为类型", "东丽类别", "盐山类别", "依据"):
            assert str(api_row[col] if api_row[col] is not None else "") == cli_row[col], col
    assert results[1]["质量"] == "低质" and results[1]["建议补问"]  # a fragment: questions to ask
    by_texts = client.post("/api/v1/classify", json={"texts": [CLUE]}).json()["results"]
    assert by_texts[0]["id"] == "1" and by_texts[0]["维度"] == results[0]["维度"]


def test_bulletin_is_split_into_cases(client):
    cases = [f"{n}、某县{w}局副局长对群众反映的问题长期不予处理，经查属实，造成恶劣影响，给予党内警告处分。" * 2
             for n, w in zip("一二三", ("住建", "民政", "水务"))]
    r = client.post("/api/v1/classify", json={"texts": ["关于典型问题的通报\n" + "\n".join(cases)]})
    parts = r.json()["results"]
    assert [p["案例序号"] for p in parts] == ["1", "2", "3"]
    assert all(p["建议补问"] == [] for p in parts)  # a bulletin has no reporter to ask


def test_concurrent_requests_are_batched_and_each_gets_its_own_results(client):
    """Requests that arrive together go through the model as one batch; every caller still gets
    exactly its own rows, ids and labels (the same as when sent alone)."""
    from concurrent.futures import ThreadPoolExecutor

    texts = [f"{place}民政所对低保申请{n}个月不予答复，群众多次跑腿。" for place, n in
             zip(("青石镇", "柳河乡", "白沙镇", "桃园街道", "金沟乡", "马鞍镇"), range(2, 8))] + ["某区", "同上"]
    alone = [client.post("/api/v1/classify", json={"items": [{"id": f"x{i}", "text": t}]}).json()["results"]
             for i, t in enumerate(texts)]

    def post(i):
        return client.post("/api/v1/classify", json={"items": [{"id": f"x{i}", "text": texts[i]}]}).json()["results"]

    with ThreadPoolExecutor(8) as pool:
        together = list(pool.map(post, list(range(len(texts))) * 3))
    for k, results in enumerate(together):
        i = k % len(texts)
        assert [r["id"] for r in results] == [f"x{i}"]
        assert results[0]["text"] == texts[i]
        for col in ("质量", "质量分", "维度", "作为类型", "东丽类别", "盐山类别", "缺失要素"):
            assert results[0][col] == alone[i][0][col], col


def test_taxonomy_lists_every_scheme_with_names(client):
    tax = client.get("/api/v1/taxonomy").json()
    assert [s["id"] for s in tax["schemes"]] == load_taxonomy().ids
    d = next(s for s in tax["schemes"] if s["id"] == "东丽类别")
    assert len(d["codes"]) == 12 and d["codes"][0]["name"]
    assert "时间" in tax["elements"]


def test_errors_are_chinese_json_without_the_text(client):
    secret = "张某某收受红包二十万元的线索"
    cases = [
        (client.post("/api/v1/classify", content=b"{bad", headers={"content-type": "application/json"}), 400),
        (client.post("/api/v1/classify", json={"items": [{"id": "1", "txt": secret}]}), 422),
        (client.post("/api/v1/classify", json={"texts": secret}), 422),
        (client.post("/api/v1/classify", json={}), 422),
        (client.post("/api/v1/classify", json={"texts": ["x"] * 1001}), 413),
        (client.post("/api/v1/classify", content=b"[" + b'"a",' * (2 << 20) + b'"a"]',
                     headers={"content-type": "application/json"}), 413),
        (client.post("/api/v1/classify", content=(b"a" * 65536 for _ in range(80)),  # chunked, no length
                     headers={"content-type": "application/json"}), 413),
        (client.post("/api/v1/reviews", json={"text": secret, "labels": {"质量": "优秀"}, "reviewer": "李明"}), 400),
        (client.post("/api/v1/reviews", json={"text": secret, "labels": {"质量": "低质", "低质原因": "空泛"}}), 400),
        (client.get("/api/v1/reviews/99999"), 404),
        (client.get("/nothing-here"), 404),
    ]
    for r, status in cases:
        assert r.status_code == status, r.text
        detail = r.json()["detail"]
        assert re.search(r"[\u4e00-\u9fff]", detail) and secret not in r.text


def test_internal_error_is_json_500_and_logs_no_text(desk, caplog, monkeypatch):
    client, _ = desk
    secret = "王某某挪用扶贫资金"
    from nlp.service.results import Desk

    def boom(self, ids, texts):
        raise ValueError(f"bad text {texts[0]}")

    monkeypatch.setattr(Desk, "classify", boom)
    with caplog.at_level(logging.DEBUG):
        r = client.post("/api/v1/classify", json={"texts": [secret]})
    assert r.status_code == 500 and "服务内部错误" in r.json()["detail"] and secret not in r.text
    assert secret not in caplog.text and "ValueError" in caplog.text


def test_security_headers_and_no_inline_script(client):
    r = client.get("/")
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    for page in ("index.html", "docs.html"):
        html = (ROOT / "nlp" / "service" / "static" / page).read_text(encoding="utf-8")
        assert all(" src=" in tag for tag in re.findall(r"<script[^>]*>", html))
        assert not re.search(r"https?://", html.replace("http://127.0.0.1:8000", ""))  # no CDN
    script = (ROOT / "nlp" / "service" / "static" / "app.js").read_text(encoding="utf-8")
    assert not re.search(r"\.(inner|outer)HTML\s*=|insertAdjacentHTML|document\.write", script)
    assert client.get("/docs").status_code == 200 and "/api/v1/classify" in client.get("/openapi.json").json()["paths"]


def test_other_hosts_and_cross_site_posts_are_refused(client):
    assert client.get("/healthz", headers={"host": "evil.example"}).status_code == 400  # DNS rebinding
    r = client.post("/api/v1/reviews", json={"text": CLUE, "labels": {"质量": "低质", "低质原因": "空泛"},
                                             "reviewer": "李明"}, headers={"origin": "http://evil.example"})
    assert r.status_code == 403


def test_files_round_trip_in_the_same_format(client):
    frame = pd.DataFrame({"编号": ["1", "2"], "内容": [CLUE, "=HYPERLINK(\"http://x\")某区"]})
    csv = frame.to_csv(index=False).encode("utf-8")
    r = client.post("/api/v1/files", files={"file": ("线索.csv", csv, "text/csv")}, data={"column": "内容"})
    assert r.status_code == 200 and "filename*=UTF-8''" in r.headers["content-disposition"]
    out = pd.read_csv(io.BytesIO(r.content), dtype=str, keep_default_na=False)
    assert list(out["编号"]) == ["1", "2"] and out.loc[1, "内容"].startswith("'=")  # no live formula
    assert out.loc[0, "质量"] in ("合格", "低质")
    buf = io.BytesIO()
    frame.to_excel(buf, index=False)
    r = client.post("/api/v1/files", files={"file": ("线索.xlsx", buf.getvalue())}, data={"column": "内容"})
    assert r.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(r.content)).active
    assert [c.value for c in sheet[1]][:3] == ["编号", "内容", "案例序号"]
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    r = client.post("/api/v1/files", files={"file": ("线索.parquet", buf.getvalue())}, data={"column": "内容"})
    assert r.status_code == 200 and list(pd.read_parquet(io.BytesIO(r.content))["编号"]) == ["1", "2"]
    r = client.post("/api/v1/files", files={"file": ("线索.csv", csv)}, data={"column": "正文"})
    assert r.status_code == 400 and "正文" in r.json()["detail"]
    r = client.post("/api/v1/files", files={"file": ("线索.doc", b"x")})
    assert r.status_code == 400 and "不支持" in r.json()["detail"]


def test_file_job_reports_progress_and_gives_the_result_once(desk):
    """The page's upload: a background job whose progress (rows done of all rows) can be polled;
    the result is the same file /api/v1/files gives, and is gone once fetched."""
    import time

    client, data = desk
    texts = [f"{v}对群众反映的问题{n}个月不予答复。" for v, n in zip(("青石镇", "柳河乡", "白沙镇"), (2, 3, 4))] * 400
    csv = pd.DataFrame({"id": range(1, len(texts) + 1), "text": texts}).to_csv(index=False).encode("utf-8")
    r = client.post("/api/v1/jobs", files={"file": ("批量.csv", csv, "text/csv")})
    assert r.status_code == 202
    job = r.json()["job"]
    seen, deadline = [], time.time() + 300
    while time.time() < deadline:
        state = client.get(f"/api/v1/jobs/{job}").json()
        seen.append(state)
        if state["status"] != "running":
            break
        time.sleep(0.05)
    assert state["status"] == "done" and state["done"] == state["total"] == len(texts), state
    assert all(s["done"] <= (s["total"] or len(texts)) for s in seen)
    r = client.get(f"/api/v1/jobs/{job}/result")
    assert r.status_code == 200 and "%E6%89%B9%E9%87%8F_" in r.headers["content-disposition"]
    out = pd.read_csv(io.BytesIO(r.content), dtype=str, keep_default_na=False)
    whole = pd.read_csv(io.BytesIO(client.post("/api/v1/files", files={"file": ("批量.csv", csv)}).content),
                        dtype=str, keep_default_na=False)
    pd.testing.assert_frame_equal(out, whole)
    assert client.get(f"/api/v1/jobs/{job}/result").status_code == 404  # fetched once, then removed
    assert not list((data / "tmp" / "jobs").iterdir())
    for bad in ("../../etc", "0" * 32, "x"):
        assert client.get(f"/api/v1/jobs/{bad}").status_code == 404
    r = client.post("/api/v1/jobs", files={"file": ("空.csv", b"id,text\n")})
    job = r.json()["job"]
    while (state := client.get(f"/api/v1/jobs/{job}").json())["status"] == "running":
        time.sleep(0.05)
    assert state["status"] == "error" and "表头" in state["detail"]


def test_review_round_trip_into_train_add(desk, runner, small_corpus, tmp_path):
    client, data = desk
    model = client.post("/api/v1/classify", json={"texts": [CLUE]}).json()["results"][0]
    labels = {"质量": "合格", "维度": "懒、软", "作为类型": "不作为", "东丽类别": "d06", "盐山类别": "Y5"}
    r = client.post("/api/v1/reviews", json={"text": CLUE, "labels": labels, "reviewer": "李明", "model": {
        k: model[k] for k in labels}})
    assert r.status_code == 200
    confirmed = r.json()["id"]
    other = "某镇政府对村民反映的道路塌陷问题两个月未安排维修，群众出行困难。"
    r = client.post("/api/v1/reviews", json={"text": other, "labels": {"质量": "合格", "维度": "懒", "作为类型": "慢作为",
                                                                        "东丽类别": "D07", "盐山类别": "Y0"},
                                             "status": "待核对"})
    pending = r.json()["id"]
    queue = client.get("/api/v1/reviews", params={"status": "已核对"}).json()
    item = next(i for i in queue["items"] if i["id"] == confirmed)
    assert item["labels"]["维度"] == "懒|软" and item["labels"]["东丽类别"] == "D06" and item["reviewer"] == "李明"
    assert queue["counts"]["待核对"] >= 1
    db = data / "reviews.db"
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    export = client.get("/api/v1/reviews/export")
    sheet = pd.read_excel(io.BytesIO(export.content), dtype=str).fillna("")
    assert set(sheet.loc[sheet["受理台编号"] == str(pending), "已核对"]) == {""}

    corpus = tmp_path / "clues.csv"
    corpus.write_bytes(small_corpus.read_bytes())
    (tmp_path / "m").mkdir()  # --add goes into an existing models folder (a mistyped one is refused)
    r = run_train(runner, "--add", db, "--corpus", corpus, "--models", tmp_path / "m", "--force")
    assert r.exit_code == 0, r.output
    merged = pd.read_csv(corpus, dtype=str, keep_default_na=False)
    row = merged[merged["text"] == CLUE].iloc[0]
    assert row["reviewer"] == "李明" and row["added"] == item["reviewed_at"][:10] and row["东丽类别"] == "D06"
    assert other not in set(merged["text"])  # 待核对 rows never reach the corpus
    # the same rows from the XLSX export are taken the same way (and are duplicates now)
    xlsx = tmp_path / "export.xlsx"
    xlsx.write_bytes(export.content)
    from nlp.training import merge_labeled

    merge = merge_labeled(merged, xlsx, load_taxonomy(), None)
    assert merge.unreviewed >= 1 and merge.added.empty and any("标签一致" in d for d in merge.duplicates)
    # a 待核对 record confirmed later
    r = client.put(f"/api/v1/reviews/{pending}", json={"labels": {"质量": "低质", "低质原因": "空泛", "维度": "懒"},
                                                        "reviewer": "王芳"})
    record = client.get(f"/api/v1/reviews/{pending}").json()
    assert record["status"] == "已核对" and record["labels"]["维度"] == "" and record["reviewed_at"]


# --------------------------------------------------------------------------- login
def test_serve_refuses_other_addresses_without_login(tmp_path):
    r = CliRunner().invoke(serve_app, ["--host", "0.0.0.0", "--data", str(tmp_path)])
    assert r.exit_code == 1 and "必须先配置登录" in r.output


def test_login_tokens_and_csrf(trained, tmp_path):
    cli = CliRunner()
    r = cli.invoke(serve_app, ["--data", str(tmp_path), "--add-user", "李明"], input="s3cret-pass\ns3cret-pass\n")
    assert r.exit_code == 0, r.output
    users = tmp_path / "users.txt"
    assert stat.S_IMODE(users.stat().st_mode) == 0o600
    assert "s3cret-pass" not in users.read_text(encoding="utf-8") and "scrypt$" in users.read_text(encoding="utf-8")
    r = cli.invoke(serve_app, ["--data", str(tmp_path), "--add-token", "热线系统"])
    token = r.output.strip().splitlines()[1]
    client = TestClient(build(tmp_path, models=trained, loopback=False), base_url="http://10.0.0.5")
    assert client.get("/api/v1/taxonomy").status_code == 401
    assert client.get("/api/v1/taxonomy", headers={"authorization": "Bearer nope"}).status_code == 401
    assert client.post("/api/v1/classify", json={"texts": [CLUE]},
                       headers={"authorization": f"Bearer {token}"}).status_code == 200
    assert client.post("/api/v1/login", json={"username": "李明", "password": "wrong-pass"}).status_code == 401
    r = client.post("/api/v1/login", json={"username": "李明", "password": "s3cret-pass"})
    assert r.status_code == 200 and "httponly" in r.headers["set-cookie"].lower()
    csrf = r.json()["csrf"]
    review = {"text": CLUE, "labels": {"质量": "低质", "低质原因": "空泛"}}
    assert client.post("/api/v1/reviews", json=review).status_code == 403  # no CSRF token
    r = client.post("/api/v1/reviews", json=review, headers={"x-csrf-token": csrf})
    assert r.status_code == 200
    assert client.get(f"/api/v1/reviews/{r.json()['id']}").json()["reviewer"] == "李明"
    client.post("/api/v1/logout", headers={"x-csrf-token": csrf})
    assert client.get("/api/v1/taxonomy").status_code == 401
    for _ in range(5):
        client.post("/api/v1/login", json={"username": "李明", "password": "guess-guess"})
    r = client.post("/api/v1/login", json={"username": "李明", "password": "s3cret-pass"})
    assert r.status_code == 429 and "过多" in r.json()["detail"]


def test_sessions_hold_across_worker_processes(runner, trained, tmp_path):
    """serve.py --workers 2: a login made in one worker process is known to the other."""
    import http.client
    import json

    from desk_server import running

    r = CliRunner().invoke(serve_app, ["--data", str(tmp_path), "--add-user", "李明"], input="s3cret-pass\ns3cret-pass\n")
    assert r.exit_code == 0, r.output
    with running(tmp_path, "--models", str(trained), "--workers", "2") as url:
        host, port = url.rsplit("/", 1)[1].split(":")

        def call(method, path, body=None, headers=None):
            conn = http.client.HTTPConnection(host, int(port), timeout=30)  # a new connection each time
            conn.request(method, path, body=json.dumps(body).encode() if body else None,
                         headers={"Content-Type": "application/json", **(headers or {})})
            res = conn.getresponse()
            return res, res.read()

        res, body = call("POST", "/api/v1/login", {"username": "李明", "password": "s3cret-pass"})
        assert res.status == 200
        cookie = res.getheader("set-cookie").split(";")[0]
        for _ in range(12):  # new connections: both workers answer some of them
            res, body = call("GET", "/api/v1/session", headers={"Cookie": cookie})
            assert json.loads(body)["user"] == "李明"
        res, body = call("GET", "/api/v1/taxonomy", headers={"Cookie": cookie})
        assert res.status == 200
    log = (tmp_path / "server.log").read_text(encoding="utf-8", errors="replace")
    assert len(set(re.findall(r"Started server process \[(\d+)\]", log))) == 2


def test_similar_earlier_clues_from_the_clue_base(runner, trained, tmp_path):
    """A clue base built by classify.py --base: the desk lists the earlier report of the same matter."""
    earlier = "青石镇柳河村的低保名单今年三月该公示却一直没贴，村会计刘德顺说不归他管。"
    src, out, base = tmp_path / "in.csv", tmp_path / "out.csv", tmp_path / "线索库.sqlite"
    pd.DataFrame({"id": ["OLD1"], "text": [earlier]}).to_csv(src, index=False)
    r = run_classify(runner, src, "-o", out, "--models", trained, "--base", base)
    assert r.exit_code == 0, r.output
    client = TestClient(build(tmp_path / "desk", models=trained, base=base), base_url=BASE)
    again = "柳河村（青石镇）低保名单3月就该贴出来，到现在没公示，会计刘德顺推说不归他管。"
    res = client.post("/api/v1/classify", json={"texts": [again]}).json()["results"][0]
    assert [m["id"] for m in res["similar"]] == ["OLD1"] and res["similar"][0]["similarity"] > 0.5
