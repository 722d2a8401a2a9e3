"""The command line in Chinese: help pages, parser errors and the commands we tell people to run.

``ZhCommand`` is the typer command class of train.py and classify.py. It writes the usage line,
the section titles, "[默认：…]", the metavars and the help option in Chinese, and turns the
parser's errors (no such option, missing value, invalid number ...) into one Chinese line
(wordings in ``data/cli_zh.toml``). Typer may use its own copy of click or the click package;
only their public classes are used here.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import sys
import tomllib
import unicodedata
from pathlib import Path

import typer
from typer.core import TyperCommand

try:  # typer >= 0.2x carries its own click
    from typer._click import exceptions as _cx
except ImportError:  # pragma: no cover - older typer on the click package
    from click import exceptions as _cx

CONSOLE_SCRIPTS = {"train.py": "jjjc-train", "classify.py": "jjjc-classify"}


@functools.lru_cache(maxsize=1)
def _table() -> dict:
    from nlp.segment import data_path

    data = tomllib.loads(data_path("cli_zh.toml").read_text(encoding="utf-8"))
    data["compiled"] = [(re.compile(m["pattern"]), m["zh"]) for m in data["message"]]
    return data


def command(script: str) -> str:
    """The command that runs ``train.py`` or ``classify.py`` from the user's current directory:
    the console script when that is how we were started (or the scripts are not beside the
    package), else this interpreter and the script, as paths relative to here when short."""
    if Path(sys.argv[0] if sys.argv else "").name.startswith("jjjc-"):
        return CONSOLE_SCRIPTS[script]
    path = Path(__file__).resolve().parent.parent / script
    if not path.exists():
        return CONSOLE_SCRIPTS[script]
    return f"{_shown(Path(sys.executable), True)} {_shown(path)}"


def _shown(path: Path, program: bool = False) -> str:
    try:
        text = os.path.relpath(path, Path.cwd())
    except ValueError:
        text = str(path)
    if text.startswith(os.path.join("..", "..")):
        text = str(path)
    if program and os.sep not in text:
        text = os.path.join(".", text)  # a bare name would be looked up in PATH
    return shlex.quote(text)


def translate(message: str) -> str:
    """A parser message in Chinese (the English one when no wording matches)."""
    message = str(message).strip()
    for pattern, zh in _table()["compiled"]:
        m = pattern.fullmatch(message)
        if m:
            return zh.format(**{k: v or "" for k, v in m.groupdict().items()})
    return message


def _metavars(text: str) -> str:
    for en, zh in _table()["metavars"].items():
        text = text.replace(f"<{en}>", f"<{zh}>").replace(en.upper(), zh)
    return text


def _help_text(text: str) -> str:
    for en, zh in _table()["help"].items():
        text = text.replace(en, zh)
    return re.sub(r"\[默认：\(([^()\]]{0,80})\)\]", r"[默认：\1]", text)  # typer brackets a text default


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def _wrap(text: str, width: int) -> list[str]:
    """Lines of at most ``width`` screen columns (Chinese characters count two); a run of
    ASCII characters (an option name, a number, a path) is not cut."""
    lines, line, used = [], "", 0
    for token in re.findall(r"[!-~]+| +|.", text):
        w = _width(token)
        if used + w > width and line.strip():
            lines.append(line.rstrip())
            line, used = "", 0
        if token.isspace() and not line:
            continue  # no blank at the start of a wrapped line
        line += token
        used += w
    return lines + [line.rstrip()] if line.strip() else lines


def _definitions(rows: list[tuple[str, str]], total: int) -> str:
    """Two aligned columns (names, help) measured in screen columns."""
    first = min(max((_width(n) for n, _ in rows), default=0), 32)
    indent = 2 + first + 2
    out = []
    for name, text in rows:
        lines = _wrap(text, max(total - indent, 20)) or [""]
        if _width(name) > first:
            out.append("  " + name)
            out += [" " * indent + x for x in lines]
        else:
            out.append("  " + name + " " * (first - _width(name) + 2) + lines[0])
            out += [" " * indent + x for x in lines[1:]]
    return "\n".join(out) + "\n"


def _hint(e) -> str:
    param = getattr(e, "param", None)
    if param is not None:
        opts = getattr(param, "opts", None) or [getattr(param, "name", "") or ""]
        return " / ".join(opts)
    return str(getattr(e, "param_hint", "") or "")


def error_text(e) -> str:
    """One Chinese line for a parser error."""
    if isinstance(e, _cx.NoSuchOption):
        text = f"没有选项 {e.option_name}。"
        if e.possibilities:
            text += f"您是不是要用：{'、'.join(sorted(e.possibilities))}？"
        return text
    if isinstance(e, _cx.MissingParameter):
        kind = "参数" if getattr(e, "param_type", "") == "argument" else "选项"
        return f"缺少{kind} {_hint(e)}。"
    if isinstance(e, _cx.BadParameter):
        return f"{_hint(e)} 的值无效：{translate(e.message)}"
    return translate(getattr(e, "message", "") or str(e))


_ABORT = getattr(_cx, "Abort", KeyboardInterrupt)

class ZhCommand(TyperCommand):
    """A typer command whose help and errors are in Chinese."""

    def format_usage(self, ctx, formatter) -> None:
        pieces = [_metavars(p).replace("[OPTIONS]", "[选项]") for p in self.collect_usage_pieces(ctx)]
        formatter.write_usage(ctx.command_path, " ".join(pieces), prefix="用法：")

    def format_options(self, ctx, formatter) -> None:
        sections: dict[str, list] = {"参数": [], "选项": []}
        for param in self.get_params(ctx):
            rv = param.get_help_record(ctx)
            if rv is not None:
                names, text = rv
                where = "参数" if param.param_type_name == "argument" else "选项"
                sections[where].append((_metavars(names), _help_text(text)))
        for title, rows in sections.items():
            if rows:
                formatter.write_paragraph()
                formatter.write(f"{title}：\n" + _definitions(rows, max(formatter.width or 80, 60)))

    def get_help_option(self, ctx):
        opt = super().get_help_option(ctx)
        if opt is not None:
            opt.help = "显示本帮助并退出。"
        return opt

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                                standalone_mode=False, **extra)
        try:
            rv = super().main(args=args, prog_name=prog_name, complete_var=complete_var,
                              standalone_mode=False, **extra)
        except _cx.ClickException as e:
            ctx = getattr(e, "ctx", None)
            typer.secho(f"错误：{error_text(e)}", fg=typer.colors.RED, err=True)
            if isinstance(e, _cx.UsageError):
                name = ctx.command_path if ctx is not None else (prog_name or "")
                typer.echo(f"用 {name} -h 查看全部选项。", err=True)
            sys.exit(e.exit_code)
        except _ABORT:  # Ctrl+C (this typer's vendored click has no Abort class)
            typer.echo("已中止。", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)
