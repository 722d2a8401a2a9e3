"""Command line: the typer app behind train.py (classify.py: ``nlp.cli_classify``).

The CLI parses arguments, prints Chinese messages and calls the package: the registry for
models, ``training`` for training jobs, ``pipeline.Annotator`` for labels, ``io`` for files.
A ``UserError`` becomes a one-line Chinese message and exit code 1, never a traceback.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Optional

import typer

from nlp.cli_common import CONTEXT, _check_models_dir, _fail, _say
from nlp.cli_zh import ZhCommand
from nlp.errors import UserError


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


def _headline_text(head: dict) -> str:
    return "test 划分 macro-F1：" + "，".join(f"{k} {v:.3f}" for k, v in head.items())


def train_main() -> None:
    train_app(prog_name="train.py")


# classify.py lives in its own module; imported here so `from nlp.cli import classify_app` keeps working
from nlp.cli_classify import classify_app, classify_main  # noqa: E402,F401
