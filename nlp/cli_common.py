"""What the command-line verbs share: messages, defaults, and the model they run with."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from nlp.cli_zh import command
from nlp.errors import UserError

# Both cores by default; overridable for benchmarks and small machines.
DEFAULT_WORKERS = min(2, os.cpu_count() or 1)
CONTEXT = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def _fail(message: str, code: int = 1):
    typer.secho(f"错误：{message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code)


def _say(message: str) -> None:
    typer.echo(message, err=True)


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
