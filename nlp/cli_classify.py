"""``classify.py``: the classify verb (a file in batch, or one clue as an intake summary).

Batch runs stream through ``nlp.batch``; ``--suggest`` is ``nlp.suggest``; ``--engine dask`` is
``nlp.engines.dask``. A ``UserError`` becomes a one-line Chinese message and exit code 1.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from nlp.batch import run_batch
from nlp.cli_common import CONTEXT, DEFAULT_WORKERS, _check_models_dir, _fail, ensure_model
from nlp.cli_zh import ZhCommand
from nlp.errors import UserError
from nlp.suggest import suggest_sheet

classify_app = typer.Typer(add_completion=False, context_settings=CONTEXT, rich_markup_mode=None)

@classify_app.command(cls=ZhCommand, help="对问题线索或通报文本分类：批量处理文件，或用 --text 查看单条线索的摘要。")
def classify(
    input: Optional[Path] = typer.Argument(None, metavar="输入文件", help="输入文件：CSV（UTF-8、GB18030 或 Big5）、XLSX、JSONL、Parquet，或通报文档 .txt、.docx"),
    output: Optional[Path] = typer.Option(None, "-o", "--output", help="输出文件（按后缀写 CSV、XLSX、JSONL 或 Parquet）"),
    text: Optional[str] = typer.Option(None, "--text", help="单条线索文本：输出便于受理人员阅读的摘要"),
    column: Optional[str] = typer.Option(None, "--column", help="文本所在的列名",
                                         show_default="自动查找 text、线索内容、反映内容、问题描述、内容"),
    sheet: Optional[str] = typer.Option(None, "--sheet", help="读取 Excel 文件中的哪个工作表", show_default="第一个"),
    encoding: Optional[str] = typer.Option(None, "--encoding", help="输入文件编码",
                                           show_default="自动识别 UTF-8、GB18030、Big5"),
    encoding_errors: str = typer.Option("strict", "--encoding-errors",
                                        help="遇到无法解码的字节：strict（报错并指出行号）或 replace（替换为 � 并在汇总中列出）"),
    codes_only: bool = typer.Option(False, "--codes-only", help="只输出代码，不在代码旁附加中文名称"),
    names: bool = typer.Option(False, "--names", hidden=True, help="（旧选项，现已默认附加名称）"),
    by: list[str] = typer.Option([], "--by", metavar="列名", help="在 XLSX 中按此列（如 来源）做各标签的交叉统计表；可重复给出"),
    split_cases: bool = typer.Option(True, "--split-cases/--no-split-cases",
                                     help="长文本拆分：通报按案例、文件按段落分别分类", show_default="开启"),
    suggest: int = typer.Option(0, "--suggest", help="挑出模型最没把握的 N 条，生成标注工作表（配合 -o 工作表.xlsx）",
                                show_default=False),
    workers: int = typer.Option(DEFAULT_WORKERS, "--workers", help="并行进程数", show_default=f"{DEFAULT_WORKERS}（用满两个核）"),
    chunk_size: int = typer.Option(2000, "--chunk-size", help="每批处理的行数"),
    model: Optional[str] = typer.Option(None, "--model", help="使用指定的模型版本", show_default="当前版本"),
    backend: Optional[str] = typer.Option(None, "--backend", help="分词后端：rjieba 或 jieba", show_default="按模型"),
    models: Optional[Path] = typer.Option(None, "--models", help="模型目录", show_default="models/"),
    engine: str = typer.Option("local", "--engine", help="运行方式：local（本机多进程）或 dask（本机集群或远程 Dask 集群）"),
    scheduler: Optional[str] = typer.Option(None, "--scheduler",
                                            help="Dask 调度器地址，如 tcp://10.0.0.5:8786（不给则在本机启动集群）"),
    dedupe: bool = typer.Option(False, "--dedupe", help="找出本批中重复反映同一事项的线索：增加“重复组”“相似线索”列"),
    base: Optional[Path] = typer.Option(None, "--base", help="线索库文件（SQLite）：与既往线索比对，并把本批存入库中。"
                                                             "库中保存线索原文，请放在有权限控制的位置"),
):
    from nlp.guard import ReadOptions, os_error_text
    from nlp.registry import Registry

    started = time.time()  # the timing line covers the whole run: model loading, reading, writing
    try:
        if by and (output is None or output.suffix.lower() != ".xlsx"):
            _fail("--by 的交叉统计表写在 XLSX 的工作表中：请用 -o 结果.xlsx 输出。", 2)
        if encoding_errors not in ("strict", "replace"):
            _fail("--encoding-errors 只能是 strict 或 replace", 2)
        if chunk_size < 1:
            _fail(f"--chunk-size 须为正整数（收到 {chunk_size}）", 2)
        options = ReadOptions(sheet=sheet, encoding=encoding, encoding_errors=encoding_errors)
        if text is None and input is None:
            _fail("请给出输入文件，或用 --text 输入单条线索。用 -h 查看帮助。", 2)
        if input is not None and text is not None:
            _fail("输入文件和 --text 只能二选一。", 2)
        if input is not None and output is None:
            _fail("请用 -o 指定输出文件，例如 -o 结果.xlsx", 2)
        if input is not None and output is not None and input.resolve() == output.resolve():
            _fail("输出文件不能与输入文件相同。", 2)
        if engine not in ("local", "dask"):
            _fail(f"未知的运行方式 --engine {engine}：可选 local 或 dask。", 2)
        if output is not None and engine == "local":
            from nlp.io import TableWriter

            TableWriter(output)  # refuses a type it cannot write (.txt, .docx) before any work
        if engine == "dask" and (input is None or output is None or suggest):
            _fail("--engine dask 用于批量分类：请给出输入（文件、目录或通配符）和 -o 输出目录。", 2)
        _check_models_dir(models)
        registry = Registry(models)
        clf = ensure_model(registry, model)
        if backend:
            clf.tokenizer_.backend = backend
            clf.tokenizer_._impl = None
        from nlp.pipeline import Annotator

        annotator = Annotator(clf, split_cases=split_cases, names=not codes_only)
        if text is not None:
            typer.echo(_intake(annotator, text))
            if base is not None:
                typer.echo(_earlier(base, text))
        elif engine == "dask":
            _dask(annotator, registry, model, input, output, column or "text", scheduler, workers)
        elif suggest:
            suggest_sheet(annotator, input, output, column, suggest, chunk_size, options)
        else:
            run_batch(annotator, input, output, column, workers, chunk_size, tuple(by), started,
                   dedupe or base is not None, base, options)
    except UserError as e:
        _fail(str(e))
    except OSError as e:
        _fail(os_error_text(e, output))


def _dask(annotator, registry, version, source: Path, target: Path, column: str, scheduler, workers) -> None:
    from nlp.engines import dask as dask_engine

    result = dask_engine.run(annotator, registry.payload(version), str(source), target, column,
                             scheduler=scheduler, workers=max(1, workers))
    typer.echo(f"已写入 {target}（Dask：{result['files']} 个输入文件、{result['partitions']} 个分区，"
               f"用时 {result['seconds']:.1f} 秒）。用 pandas.read_parquet 或逐个 CSV 文件读取。")


def _earlier(path: Path, text: str) -> str:
    from nlp.dedupe.base import ClueBase

    with ClueBase(path) as clue_base:
        found = clue_base.similar(text, k=5)
    if not found:
        return f"相似的既往线索：线索库（{len(clue_base)} 条）中没有。"
    return "相似的既往线索：\n" + "\n".join(f"  {m['id']}（相似度 {m['similarity']:.2f}，{m['date']}）{m['text'][:60]}"
                                       for m in found)


def _intake(annotator, text: str) -> str:
    from nlp.normalize import normalize
    from nlp.quality import COLUMNS, is_bulletin, questions
    from nlp.report import intake_summary
    import pandas as pd

    from nlp.normalize import replace_surrogates

    text = replace_surrogates(text)  # an undecodable byte of argv: never written back raw
    if not text.strip():
        raise UserError("线索文本为空。")
    out = annotator.annotate(pd.DataFrame({"text": [text]}), "text")
    tax = annotator.model.taxonomy_
    blocks = []
    if len(out) > 1:
        kinds = set(out["文本类型"])
        blocks.append(f"长文本已拆分为 {int((out['案例序号'] != '全文').sum())} 部分（{'、'.join(sorted(kinds))}）。")
    for row in out.to_dict("records"):
        if row.get("案例序号") == "全文":
            blocks.append("【全文汇总】\n" + str(row.get("依据", "")))
            continue
        elements = {name: str(row.get(column) or "") for name, column in COLUMNS.items()}
        missing = row.get("缺失要素", "")
        q = questions([m for m in str(missing).split("、") if m])
        if row.get("文本类型", "线索") != "线索" or is_bulletin(normalize(text)):
            q = []  # a bulletin or a document has no reporter to ask; 缺失要素 stays as information
        title = f"【第 {row['案例序号']} 部分】\n" if row.get("案例序号") else ""
        probs = annotator.model.predict_proba([str(row.get("text", ""))])
        per_code = {s.id: dict(zip(s.code_list, probs[s.id][0])) for s in tax.schemes if s.multi and s.id in probs}
        blocks.append(title + intake_summary(row, tax, elements, q, per_code))
    return "\n\n".join(blocks)


def classify_main() -> None:
    classify_app(prog_name="classify.py")
