"""At the desk: the XLSX 台账, Chinese help, the whole-run timing line, the one-clue summary."""

import openpyxl
import pandas as pd
from openpyxl.utils import get_column_letter

from conftest import run_classify, run_train
from nlp.cli import classify_app, train_app

CLUES = [
    ("来信", "2024年3月，某县住建局对群众反映的小区违建问题三个月不予处理，多次投诉无人答复。"),
    ("热线", "办公室桌面文件摆放凌乱，绿植没人浇水。"),
    ("来信", '=HYPERLINK("http://x","点我")'),
    ("网络", "柳河镇派出所接到村民报警称有人欺行霸市，民警两个小时后才出警。"),
    ("热线", "2025年5月，城关镇社保所对失地农民养老保险申请推了四个月不办，工作人员说等领导批。"),
]


def _source(tmp_path):
    src = tmp_path / "in.csv"
    pd.DataFrame({"编号": [f"K{i}" for i in range(len(CLUES))], "来源": [c[0] for c in CLUES],
                  "text": [c[1] for c in CLUES]}).to_csv(src, index=False)
    return src


def test_xlsx_is_a_ledger(runner, trained, tmp_path):
    src, out = _source(tmp_path), tmp_path / "台账.xlsx"
    r = run_classify(runner, src, "-o", out, "--by", "来源", "--models", trained)
    assert r.exit_code == 0, r.output
    wb = openpyxl.load_workbook(out)
    assert wb.sheetnames == ["分类结果", "汇总", "按来源"]
    ws = wb["分类结果"]
    header = [c.value for c in ws[1]]
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:{get_column_letter(len(header))}{len(CLUES) + 1}"
    text = get_column_letter(header.index("text") + 1)
    assert ws.column_dimensions[text].width >= 50 and ws[f"{text}2"].alignment.wrap_text
    assert ws.column_dimensions[get_column_letter(header.index("编号") + 1)].width < 15
    # names beside codes, by default
    for sid in ("维度", "东丽类别", "盐山类别"):
        assert header[header.index(sid) + 1] == f"{sid}名称"
    row = {h: c for h, c in zip(header, ws[2])}
    assert row["东丽类别"].value.startswith("D") and row["东丽类别名称"].value
    # confidences as percentages
    assert row["质量置信度"].number_format == "0%" and 0 <= row["质量置信度"].value <= 1
    # the reporter's formula stays text
    assert ws.cell(row=4, column=header.index("text") + 1).data_type == "s"
    # 汇总: names, counts, shares
    summary = wb["汇总"]
    top = [c.value for c in summary[1]]
    assert top[:5] == ["标签", "代码", "名称", "条数", "占比"]
    lines = [[c.value for c in r] for r in summary.iter_rows(min_row=2)]
    quality = {r[1]: r for r in lines if r[0] == "质量"}
    assert sum(r[3] for r in quality.values()) == len(CLUES)
    assert abs(sum(r[4] for r in quality.values()) - 1) < 1e-9
    assert summary.cell(row=2, column=5).number_format == "0%" and summary.freeze_panes == "A2"
    assert any(r[0] == "东丽类别" and r[2] for r in lines)
    # cross-tab by 来源: every label's codes by source, totals agree with 汇总
    cross = wb["按来源"]
    ch = [c.value for c in cross[1]]
    assert ch[:3] == ["标签", "代码", "名称"] and set(ch[3:-1]) == {"来信", "热线", "网络"} and ch[-1] == "合计"
    for r in cross.iter_rows(min_row=2, values_only=True):
        assert sum(r[3:-1]) == r[-1]
        if r[0] == "质量":
            assert r[-1] == quality[r[1]][3]
    r = run_classify(runner, src, "-o", out, "--codes-only", "--models", trained)
    assert r.exit_code == 0, r.output
    header = [c.value for c in openpyxl.load_workbook(out)["分类结果"][1]]
    assert not [h for h in header if h.endswith("名称")]


def test_by_needs_xlsx_and_a_column_of_the_input(runner, trained, tmp_path):
    src = _source(tmp_path)
    r = run_classify(runner, src, "-o", tmp_path / "o.csv", "--by", "来源", "--models", trained)
    assert r.exit_code == 2 and "XLSX" in r.output
    out = tmp_path / "o.xlsx"
    r = run_classify(runner, src, "-o", out, "--by", "单位", "--models", trained)
    assert r.exit_code == 1 and "没有“单位”列" in r.output and "来源" in r.output and not out.exists()


def test_timing_line_covers_the_whole_run(runner, trained, tmp_path):
    r = run_classify(runner, _source(tmp_path), "-o", tmp_path / "o.csv", "--models", trained)
    assert r.exit_code == 0, r.output
    assert "全程用时" in r.output and "含加载模型和读写文件" in r.output
    assert "空白文本 0 行" not in r.output


def test_one_clue_summary_names_each_label_once_with_confidences(runner, trained):
    text = ("2024年3月，某县住建局对群众反映的小区违建问题三个月不予处理，多次投诉无人答复，"
            "局长还在会上说群众是刁民，工作人员上班时间打游戏。")
    r = run_classify(runner, "--text", text, "--models", trained)
    assert r.exit_code == 0, r.output
    dims = next(line for line in r.output.splitlines() if line.startswith("维度："))
    codes = [p for p in dims[3:].split("、")]
    assert codes and all("（置信度 " in p and p.endswith("%）") for p in codes), dims
    kind = next(line for line in r.output.splitlines() if line.startswith("作为类型："))
    assert kind.count("作为") == 2 and "置信度" in kind  # 作为类型：不作为（置信度 81%）, not 不作为 不作为
    assert "空白文本" not in r.output
    r = run_classify(runner, "--text", "楼上邻居半夜拖椅子，吵得睡不着。", "--models", trained)
    reason = next(line for line in r.output.splitlines() if line.startswith("低质原因："))
    assert reason.split("（")[0] in {"低质原因：无关 与履职无关", "低质原因：琐碎小事", "低质原因：空泛 内容空泛"}, reason


def test_help_and_parser_errors_in_chinese(runner):
    for app in (train_app, classify_app):
        r = runner.invoke(app, ["-h"])
        assert r.exit_code == 0
        for english in ("Usage", "Options", "Arguments", "Show this message", "[default", "<path>", "<int>"):
            assert english not in r.output, (english, r.output)
        assert "用法：" in r.output and "选项：" in r.output and "显示本帮助并退出。" in r.output
        assert "[默认：" in r.output and "（默认" not in r.output  # one wording for defaults
    r = runner.invoke(train_app, ["--bogus"])
    assert r.exit_code == 2 and "错误：没有选项 --bogus" in r.output and "-h 查看全部选项" in r.output
    r = runner.invoke(classify_app, ["a.csv", "--workers", "abc"])
    assert r.exit_code == 2 and "--workers 的值无效" in r.output and "整数" in r.output
    r = runner.invoke(classify_app, ["a.csv", "b.csv"])
    assert r.exit_code == 2 and "多余的参数：b.csv" in r.output
    r = runner.invoke(train_app, ["--add"])
    assert r.exit_code == 2 and "--add 后面要给出一个值" in r.output
    assert "Error" not in r.output and "Usage" not in r.output


def test_messages_name_a_command_that_runs_from_here(runner, tmp_path, monkeypatch):
    import sys
    from pathlib import Path

    from nlp.cli_zh import command

    root = Path(__file__).resolve().parent.parent
    monkeypatch.chdir(root)
    monkeypatch.setattr(sys, "argv", ["train.py"])
    monkeypatch.setattr(sys, "executable", str(root / ".venv" / "bin" / "python"))
    assert command("train.py") == ".venv/bin/python train.py"
    monkeypatch.chdir(tmp_path)
    cmd = command("classify.py")
    assert cmd.endswith("classify.py") and Path(cmd.split()[1]).resolve() == root / "classify.py"
    monkeypatch.setattr(sys, "argv", ["/usr/local/bin/jjjc-train"])
    assert command("train.py") == "jjjc-train"
    r = run_train(runner, "--list", "--models", tmp_path / "empty")
    assert "运行 jjjc-train 训练" in r.output
