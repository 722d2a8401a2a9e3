"""The 受理台 page in a real headless browser (Debian's chromium driven by playwright) against
the real server (serve.py under uvicorn on a free loopback port): type a clue, see the result,
correct a label, save, find it in the queue; upload a file and download the result."""

from __future__ import annotations

import os
import shutil

import pytest

from desk_server import running

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
CLUE = "2024年3月，某县住建局对群众反映的小区违建问题三个月不予处理，多次投诉无人答复，造成群众损失。"


def _browser_missing() -> str:
    if not os.path.exists(CHROMIUM):
        return "没有安装 chromium（apt-get install chromium），跳过浏览器测试 / chromium not installed"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "没有安装 playwright，跳过浏览器测试 / playwright not installed"
    return ""


pytestmark = pytest.mark.skipif(bool(_browser_missing()), reason=_browser_missing() or "-")


@pytest.fixture(scope="module")
def server(trained, tmp_path_factory):
    data = tmp_path_factory.mktemp("desk-browser")
    with running(data, "--models", str(trained), "--workers", "1") as url:
        yield url, data


def test_type_classify_correct_save_and_find_in_queue(server):
    from playwright.sync_api import expect, sync_playwright

    url, data = server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        page.set_default_timeout(30_000)  # a loaded CI machine: generous waits, never a sleep
        expect.set_options(timeout=30_000)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(url + "/")
        page.fill("#text", CLUE)
        page.press("#text", "Control+Enter")
        expect(page.locator("#result")).to_be_visible()
        expect(page.locator("#quality")).to_contain_text("分")
        expect(page.locator("#labels tbody tr")).to_have_count(4)
        assert page.locator("#evidence-text mark").count() > 0  # 依据 highlighted in the text
        # correct 东丽类别 to D06 (a code the model did not pick for this clue is fine either way)
        page.select_option("#f-质量", "合格")
        page.select_option("#f-东丽类别", "D06")
        page.select_option("#f-作为类型", "不作为")
        page.select_option("#f-盐山类别", "Y5")
        page.fill("#reviewer", "李明")
        page.click("#save")
        expect(page.locator("#status")).to_contain_text("已保存为已核对")
        expect(page.locator("#text")).to_have_value("")  # the form clears for the next clue
        expect(page.locator("#result")).to_be_hidden()
        page.click('.tabs button[data-tab="queue"]')
        page.click('.filter[data-status="已核对"]')
        row = page.locator("#queue tbody tr").first
        expect(row).to_contain_text("李明")
        expect(row).to_contain_text("东丽类别：D06")
        expect(row).to_contain_text(CLUE[:20])
        # a file: upload with a progress bar, the result comes back in the same format
        source = data / "线索.csv"
        source.write_text(f"id,text\nA1,{CLUE}\nA2,某区\n", encoding="utf-8")
        page.click('.tabs button[data-tab="files"]')
        page.set_input_files("#file", str(source))
        with page.expect_download() as got:
            page.click("#file-form button[type=submit]")
        expect(page.locator("#file-status")).to_contain_text("分类完成")
        assert got.value.suggested_filename == "线索_分类结果.csv"
        result = open(got.value.path(), encoding="utf-8-sig").read()
        assert "A2,某区" in result and "质量分" in result
        if os.environ.get("DESK_SCREENSHOT"):
            page.screenshot(path=os.environ["DESK_SCREENSHOT"], full_page=True)
        assert not errors, errors
        browser.close()
    # the server's log has the routes and nothing of the clue
    log = (data / "server.log").read_text(encoding="utf-8", errors="replace")
    assert "POST /api/v1/classify" in log and CLUE[:10] not in log
