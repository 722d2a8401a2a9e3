"""Command line: the typer apps behind train.py and classify.py.

The CLI parses arguments, prints Chinese messages and calls the package: the registry for
models, ``training`` for training jobs, ``pipeline.Annotator`` for labels, ``io`` for files.
A ``UserError`` becomes a one-line Chinese message and exit code 1, never a traceback.
"""

from __future__ import annotations

import collections
import itertools
import multiprocessing as mp
import os
import sys
import time
from pathlib import Path
from typing import Optional

import typer

from nlp.cli_zh import ZhCommand, command
from nlp.errors import UserError

# Both cores by default; overridable for benchmarks and small machines.
DEFAULT_WORKERS = min(2, os.cpu_count() or 1)
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _fail(message: str, code: int = 1):
    typer.secho(f"错误：{message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _say(message: str) -> None:
    typer.echo(message, err=True)


# =============================================================== shared
def ensure_model(registry, version: str | None = None, backend: str = "auto"):
    """The current (or named) verified model; build the default one on first use or after a
    library upgrade, with a message."""
    from nlp import training
    from nlp.registry import ModelMismatch

    try:
        if version or registry.current():
            return registry.load(version)
        _say("首次使用：还没有模型，正在用内置语料训练默认模型（约需一分钟）……")
    except ModelMismatch as e:
        if version:
            raise
        _say(f"{e} 正在用内置语料自动重新训练……")
    with registry.lock():
        result = training.build(registry=registry, backend=backend, log=_say)
        registry.promote(result.version)
    _say(f"默认模型 {result.version} 已训练完成并启用。")
    return registry.load(result.version)


# =============================================================== train
train_app = typer.Typer(add_completion=False, context_settings=CONTEXT, rich_markup_mode=None)


@train_app.command(cls=ZhCommand, help="用语料训练模型，或追加新标注、撤销追加、回退、列出版本、审查标注。")
def train(
    corpus: Optional[Path] = typer.Option(None, "--corpus", help="语料文件", show_default="corpora/clues.csv"),
    add: Optional[Path] = typer.Option(None, "--add", help="追加新标注的文件（CSV 或 XLSX，格式同语料；标注工作表、--audit 复核表、受理台数据库 reviews.db 或其导出可直接读入）"),
    prefer: Optional[str] = typer.Option(None, "--prefer", help="标签冲突时以哪方为准：new（新标注）或 old（语料原标注）"),
    trust_labels: bool = typer.Option(False, "--trust-labels",
                                      help="确认 --add 文件中全部标签都经人工核对（文件没有“已核对”列时才需要）"),
    force: bool = typer.Option(False, "--force", help="即使某个头部指标下降超过容差，也启用新模型"),
    tolerance: float = typer.Option(0.02, "--tolerance", help="晋升门槛：任一头部 macro-F1 下降不得超过此值"),
    rollback: bool = typer.Option(False, "--rollback", help="回退到上一个模型版本（只换模型，语料不变）"),
    undo_add: Optional[str] = typer.Option(None, "--undo-add", metavar="批次号",
                                           help="撤销一次 --add：删除它加入的行、恢复它改过的标注（批次号见 --list）"),
    use: Optional[str] = typer.Option(None, "--use", help="启用指定的模型版本（版本名见 --list）"),
    list_: bool = typer.Option(False, "--list", help="列出所有模型版本及其主要指标"),
    audit: bool = typer.Option(False, "--audit", help="交叉验证找出可能标错的语料行，供人工复核"),
    audit_out: Optional[Path] = typer.Option(None, "--audit-out", help="复核表另存为文件（XLSX 带“复核结论”下拉列表，也可 CSV/JSONL）"),
    seed: int = typer.Option(20261122, "--seed", help="随机种子（相同语料和种子得到相同模型）"),
    backend: str = typer.Option("auto", "--backend", help="分词后端：auto、rjieba、jieba"),
    models: Optional[Path] = typer.Option(None, "--models", help="模型目录", show_default="models/"),
):
    from nlp import cli_train
    from nlp import corpus as corpus_mod
    from nlp import training
    from nlp.registry import Registry
    from nlp.taxonomy import load_taxonomy

    if prefer not in (None, "new", "old"):
        _fail("--prefer 只能是 new 或 old")
    try:
        # only a plain training run may start a new models folder; --add must compare with a real one
        _check_models_dir(models, create=not (add or rollback or use or list_ or audit))
        registry = Registry(models)
    except UserError as e:
        _fail(str(e))
    corpus_path = corpus or corpus_mod.default_corpus()
    from nlp.tempfiles import remove_stale

    remove_stale(Path(corpus_path).parent)  # a killed --add's corpus temporaries hold clue text
    try:
        if list_:
            return cli_train.list_versions(registry, corpus_path)
        if rollback:
            return cli_train.rollback(registry, corpus_path)
        if undo_add:
            with registry.lock():
                return cli_train.undo_add(registry, corpus_path, undo_add)
        if use:
            old, new = registry.use(use)
            typer.echo(f"已启用：当前模型由 {old or '（无）'} 改为 {new}。")
            return
        taxonomy = load_taxonomy()
        if audit:
            df = corpus_mod.read_corpus(corpus_path)
            _say(f"审查中：{len(df)} 行语料做 5 折交叉验证……")
            found = training.audit(df, taxonomy, seed, backend, None)
            cli_train.report_audit(found, audit_out, taxonomy)
            return
        with registry.lock():
            if add:
                cli_train.train_with_added(registry, corpus_path, add, prefer, force, tolerance, seed, backend,
                                           taxonomy, trust_labels)
            else:
                t0 = time.time()
                result = training.build(corpus_path, seed, backend, registry, log=_say)
                registry.promote(result.version)
                typer.echo(f"模型 {result.version} 训练完成并启用（用时 {time.time() - t0:.0f} 秒）。")
                typer.echo(_headline_text(result.info["headline"]))
                typer.echo(f"评估报告：{registry.path(result.version) / 'report.md'}")
    except UserError as e:
        _fail(str(e))


def _check_models_dir(models: Optional[Path], create: bool = False) -> None:
    """A mistyped --models must not quietly become a new model folder (classify would train a
    default model there; --add would skip the comparison with the real current model)."""
    if models is None or models.is_dir():
        return
    if models.exists():
        raise UserError(f"--models {models} 不是文件夹。")
    if not create:
        raise UserError(f"模型目录 {models} 不存在。请检查路径；如要在新目录建立模型，先运行 {command('train.py')} 训练"
                        f"（加 --models {models}）。")
    models.mkdir(parents=True)
    _say(f"新建模型目录 {models}。")


def _headline_text(head: dict) -> str:
    return "test 划分 macro-F1：" + "，".join(f"{k} {v:.3f}" for k, v in head.items())


def train_main() -> None:
    train_app(prog_name="train.py")


# =============================================================== classify
classify_app = typer.Typer(add_completion=False, context_settings=CONTEXT, rich_markup_mode=None)

_ANNOTATOR = None  # set in the parent before forking workers; each worker inherits it


def _work(frame, column, fmt=None, tally=None):
    """One chunk in a worker: labels, and (for text outputs) the rows already rendered and
    counted, so only a string and a few counts travel back to the parent."""
    out = _ANNOTATOR.annotate(frame, column)
    if fmt is None:
        return out
    from nlp.io import render_rows

    return [str(c) for c in out.columns], render_rows(out, fmt), tally.count(out)


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
            _suggest(annotator, input, output, column, suggest, chunk_size, options)
        else:
            _batch(annotator, input, output, column, workers, chunk_size, tuple(by), started,
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


def _check_chunk(chunk, column: str, source: Path, by: tuple[str, ...] = ()) -> None:
    from nlp.inputs import columns_text
    from nlp.io import NonText

    cols = "、".join(str(c) for c in chunk.frame.columns)
    if column not in chunk.frame.columns:
        cols = columns_text(chunk.frame.columns)
        raise UserError(f"输入文件 {source} 没有“{column}”列。现有列：{cols}。请用 --column 指定文本所在的列。")
    for b in by:
        if b not in chunk.frame.columns:
            raise UserError(f"输入文件 {source} 没有“{b}”列，无法按它交叉统计（--by）。现有列：{cols}。")
    # Rows as Excel and WPS number them (the header is row 1); JSONL keeps its line numbers.
    first = 0 if str(source).lower().endswith((".jsonl", ".ndjson")) else 1
    bad = [n + first for n, v in zip(chunk.rows, chunk.frame[column]) if isinstance(v, NonText)]
    if bad:
        shown = "、".join(str(n) for n in bad[:10])
        raise UserError(f"“{column}”列第 {shown} 行{'等' if len(bad) > 10 else ''}不是文本（数字、日期或对象），"
                        f"共 {len(bad)} 行。请检查是否选错了列（--column），或把这些单元格改成文本。")


def _columns(annotator, chunk, column: Optional[str], said: set) -> tuple[str, dict]:
    """The text column (chosen automatically when not given) and new names for input columns an
    output column would repeat (质量 -> 原质量), each said once."""
    from nlp.inputs import choose_column, rename_collisions
    from nlp.pipeline import CASE_NO, KIND

    column, note = choose_column(chunk.frame.columns, column)
    if note and note not in said:
        said.add(note)
        _say(note)
    if not hasattr(annotator, "_output_columns"):
        annotator._output_columns = set(annotator.annotate_texts(["某县"]).columns) | {CASE_NO, KIND}
    rename = rename_collisions(chunk.frame.columns, annotator._output_columns)
    if rename:
        chunk.frame = chunk.frame.rename(columns=rename)
        note = "输入中与输出同名的列已改名：" + "、".join(f"“{a}”→“{b}”" for a, b in rename.items())
        if note not in said:
            said.add(note)
            _say(note)
    return rename.get(column, column), rename


def _batch(annotator, source: Path, target: Path, column: Optional[str], workers: int, chunk_size: int,
           by: tuple[str, ...] = (), started: float | None = None, dedupe: bool = False,
           base: Optional[Path] = None, options=None) -> None:
    import pandas as pd
    from tqdm import tqdm

    from nlp.io import TableWriter, file_format, read_chunks
    from nlp.report import Tally
    from nlp.taxonomy import LOW, QUALITY

    global _ANNOTATOR
    _ANNOTATOR = annotator
    tax = annotator.model.taxonomy_
    tally = Tally(annotator.schemes, {s.id for s in tax.schemes if s.multi}, by)
    started = started or time.time()
    n_in = 0
    if column is None:  # chosen once from the header, so the repeat search and the layout know it
        column = _header_column(source, chunk_size, options)
    writer = TableWriter(target, highlight=(QUALITY, LOW), wide=(column,))
    bar = tqdm(unit="条", desc="分类", delay=2, file=sys.stderr, dynamic_ncols=True)
    pool = None
    repeats = _repeats(source, column, chunk_size, base) if dedupe else None
    try:
        with writer:
            chunks = read_chunks(source, chunk_size, options)
            said: set = set()
            pending: collections.deque = collections.deque()

            def drain(block: bool):
                while pending and (block or len(pending) >= 2 * max(workers, 1)):
                    rows_in, res = pending.popleft()
                    res = res if isinstance(res, pd.DataFrame) else res.get()
                    if isinstance(res, pd.DataFrame):
                        res = repeats.collect(res) if repeats is not None else res
                        writer.write(res)
                        tally.add(res)
                    else:
                        columns, text, counts = res
                        writer.write_rendered(columns, text)
                        tally.merge(counts)
                    bar.update(rows_in)

            # Workers render text rows themselves when every chunk has the same columns
            # (CSV and Excel inputs; JSONL lines may differ in their keys).
            fmt = writer.fmt if writer.renders_text and file_format(source) != "jsonl" else None
            fmt = None if repeats is not None and repeats.base is not None else fmt  # labels go to the base
            first = next(chunks, None)
            second = next(chunks, None)
            if second is not None and workers > 1:
                # more than one chunk: worth the worker processes (fork shares the loaded model)
                annotator.warm_up()
                if repeats is not None:
                    repeats.warm_up()
                pool = mp.get_context("fork").Pool(workers)
            if repeats is not None:
                repeats.prepare(pool, check=lambda c: _check_chunk(c, column, source))
            for chunk in itertools.chain([c for c in (first, second) if c is not None], chunks):
                column, _ = _columns(annotator, chunk, column, said)
                _check_chunk(chunk, column, source, by)
                n_in += len(chunk.frame)
                frame = repeats.annotate(chunk.frame) if repeats is not None else chunk.frame
                if pool is None:
                    pending.append((len(frame), annotator.annotate(frame, column)))
                else:
                    pending.append((len(frame), pool.apply_async(_work, (frame, column, fmt, tally))))
                drain(block=False)
            drain(block=True)
            if n_in == 0:
                raise UserError(f"输入文件 {source} 只有表头，没有数据行。")
            notes = options.notes(column) if options is not None else []
            writer.summary = tally.rows_for_table(tax) + [[note] for note in notes]
            writer.sheets = tally.cross_tables(tax)
    finally:
        bar.close()
        if pool is not None:
            pool.terminate()
    if repeats is not None and repeats.base is not None:
        added = repeats.store()
        _say(f"已存入线索库 {base}：新增 {added} 条，库中共 {len(repeats.base)} 条。")
    elapsed = max(time.time() - started, 1e-9)
    typer.echo(tally.render())
    if repeats is not None:
        typer.echo(repeats.summary())
    for note in notes:
        typer.echo(note)
    rate = n_in / elapsed
    typer.echo(f"已写入 {target}（输入 {n_in} 条，全程用时 {elapsed:.1f} 秒，含加载模型和读写文件；"
               f"{rate:.{0 if rate >= 10 else 1}f} 条/秒）。")


def _header_column(source: Path, chunk_size: int, options) -> Optional[str]:
    from nlp.inputs import choose_column
    from nlp.io import read_chunks

    import dataclasses

    peek = dataclasses.replace(options, replaced_rows=[], formula_cells=[]) if options is not None else None
    first = next(read_chunks(source, chunk_size, peek), None)  # its notes are not the run's
    if first is None:
        return None
    column, note = choose_column(first.frame.columns, None)
    if note:
        _say(note)
    return column


def _repeats(source: Path, column: str, chunk_size: int, base: Optional[Path]):
    from nlp.dedupe.base import ClueBase
    from nlp.dedupe.batch import BatchDedupe

    return BatchDedupe(source, column, chunk_size, ClueBase(base) if base is not None else None)


def _suggest(annotator, source: Path, target: Path, column: Optional[str], n: int, chunk_size: int,
             options=None) -> None:
    import heapq

    import numpy as np
    import pandas as pd

    from nlp.corpus import near_duplicates
    from nlp.io import NonText, read_chunks
    from nlp.normalize import normalize
    from nlp.worksheet import write_worksheet

    if target.suffix.lower() != ".xlsx":
        raise UserError("标注工作表须为 .xlsx 文件（带下拉列表），例如 -o 工作表.xlsx")
    model = annotator.model
    heap: list = []  # (uncertainty, row order, id, text, input row) — the most uncertain 5n kept
    order = 0
    said: set = set()
    for chunk in read_chunks(source, chunk_size, options):
        column, _ = _columns(annotator, chunk, column, said)
        _check_chunk(chunk, column, source)
        texts = [str(v) for v in chunk.frame[column]]
        ids = chunk.frame["id"].astype(str).tolist() if "id" in chunk.frame.columns else [str(r + 1) for r in chunk.rows]
        records = chunk.frame.to_dict("records")
        keep = [i for i, t in enumerate(texts) if t.strip()]
        if not keep:
            continue
        norm = [normalize(texts[i]) for i in keep]
        probs = model.predict_proba(norm, normalized=True)
        u = np.zeros(len(keep))
        heads = 0
        for sid, P in probs.items():
            if model.taxonomy_[sid].multi:
                u += (1 - np.abs(2 * P - 1)).mean(axis=1)
            else:
                top2 = np.sort(P, axis=1)[:, -2:]
                u += 1 - (top2[:, -1] - top2[:, 0])
            heads += 1
        u /= max(heads, 1)
        for k, i in enumerate(keep):
            item = (float(u[k]), -order, ids[i], texts[i], records[i])
            order += 1
            if len(heap) < 5 * n:
                heapq.heappush(heap, item)
            else:
                heapq.heappushpop(heap, item)
    ranked = sorted(heap, reverse=True)
    chosen: list = []
    for item in ranked:
        if len(chosen) >= n:
            break
        if chosen and near_duplicates([item[3]], 0.6, others=[c[3] for c in chosen]):
            continue
        chosen.append(item)
    # every input column kept (the text column named text, an id added when there is none)
    frame = pd.DataFrame([c[4] for c in chosen]).rename(columns={column: "text"})
    frame = frame.map(lambda v: str(v) if isinstance(v, NonText) else v)
    if "id" not in frame.columns:
        frame.insert(0, "id", [c[2] for c in chosen])
    frame["模型把握度"] = [round(1 - c[0], 3) for c in chosen]
    write_worksheet(frame, target, model.taxonomy_, annotator)
    typer.echo(f"已挑出 {len(chosen)} 条模型最没把握的线索（互不近似重复），标注工作表写入 {target}。"
               "标签列已预填模型的判断（可从下拉列表改选）；核对过的行在“已核对”列选“是”。"
               f"完成后运行：{command('train.py')} --add {target}")


def classify_main() -> None:
    classify_app(prog_name="classify.py")
