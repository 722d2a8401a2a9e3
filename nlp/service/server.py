"""serve.py: start the desk (FastAPI + uvicorn), or manage its users and API tokens."""

from __future__ import annotations

import ipaddress
import json
import os
import tempfile
from pathlib import Path
from typing import Optional

import typer

from nlp.errors import UserError

CONTEXT = {"help_option_names": ["-h", "--help"]}
DEFAULT_DATA = Path("受理台数据")
DEFAULT_WORKERS = min(2, os.cpu_count() or 1)
CONFIG_ENV = "JJJC_DESK_CONFIG"  # serve.py's options for the worker processes (paths and flags only)
serve_app = typer.Typer(add_completion=False, context_settings=CONTEXT, rich_markup_mode=None)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _auth(data: Path, users: Path | None, tokens: Path | None, loopback: bool, secure_cookie: bool = False):
    from nlp.service.auth import Auth

    data.mkdir(parents=True, exist_ok=True, mode=0o700)
    auth = Auth.from_files(users or data / "users.txt", tokens or data / "tokens.txt", data / "sessions.db",
                           secure_cookie)
    if not loopback and not auth.required:
        raise UserError("受理台要在本机以外的地址上提供服务，必须先配置登录：用 --add-user 姓名 添加用户，"
                        "或用 --add-token 系统名 生成 API 令牌。未配置登录时只能监听 127.0.0.1。")
    return auth


def app_from_env():
    """The app in each uvicorn worker process (``--workers`` > 1), built from serve.py's options."""
    cfg = json.loads(os.environ[CONFIG_ENV])
    paths = {k: Path(v) if v else None for k, v in cfg.items() if k in ("data", "models", "users", "tokens", "base")}
    return build(model=cfg["model"], loopback=cfg["loopback"], secure_cookie=cfg["secure_cookie"], **paths)


def build(data: Path, model: str | None = None, models: Path | None = None, users: Path | None = None,
          tokens: Path | None = None, loopback: bool = True, secure_cookie: bool = False, base: Path | None = None):
    """The app with the verified model loaded once and warmed up (used by serve.py, tests, bench)."""
    from nlp.cli_common import ensure_model
    from nlp.pipeline import Annotator
    from nlp.registry import Registry
    from nlp.service.app import create_app
    from nlp.service.results import Desk
    from nlp.service.reviews import DB_NAME, ReviewStore

    auth = _auth(data, users, tokens, loopback, secure_cookie)
    registry = Registry(models)
    clf = ensure_model(registry, model)
    version = model or registry.current() or ""
    annotator = Annotator(clf, names=True).warm_up()  # code names beside codes, as classify.py writes them
    store = ReviewStore(data / DB_NAME)
    if base is not None and not base.is_file():
        raise UserError(f"线索库 {base} 不存在：先用 classify.py --base {base} 建库。")
    return create_app(Desk(annotator, version, base), store, auth, data, loopback=loopback)


@serve_app.command(help="启动受理台（网页和 HTTP API）。默认只在本机 127.0.0.1:8000 提供服务。")
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="监听地址（非本机地址必须先配置登录）"),
    port: int = typer.Option(8000, "--port", help="端口"),
    data: Path = typer.Option(DEFAULT_DATA, "--data", help="数据目录：核对记录数据库、用户和令牌文件"),
    model: Optional[str] = typer.Option(None, "--model", help="使用指定的模型版本（默认当前版本）"),
    models: Optional[Path] = typer.Option(None, "--models", help="模型目录（默认 models/）"),
    users: Optional[Path] = typer.Option(None, "--users", help="用户文件（默认 数据目录/users.txt）"),
    tokens: Optional[Path] = typer.Option(None, "--tokens", help="API 令牌文件（默认 数据目录/tokens.txt）"),
    certfile: Optional[Path] = typer.Option(None, "--certfile", help="HTTPS 证书文件（PEM）"),
    keyfile: Optional[Path] = typer.Option(None, "--keyfile", help="HTTPS 私钥文件（PEM）"),
    workers: int = typer.Option(DEFAULT_WORKERS, "--workers", help="工作进程数（默认用满两个核；每个进程各加载一份模型）"),
    add_user: Optional[str] = typer.Option(None, "--add-user", help="添加或重设一个用户的密码（提示输入密码），然后退出"),
    add_token: Optional[str] = typer.Option(None, "--add-token", help="为一个对接系统生成 API 令牌（只显示一次），然后退出"),
    base: Optional[Path] = typer.Option(None, "--base", help="线索库（classify.py --base 建立）：每条结果列出相似的既往线索"),
):
    from nlp.service import auth

    users = users or data / "users.txt"
    tokens = tokens or data / "tokens.txt"
    try:
        if add_user:
            password = typer.prompt(f"为用户 {add_user} 设置密码", hide_input=True, confirmation_prompt=True,
                                    err=True)
            data.mkdir(parents=True, exist_ok=True, mode=0o700)
            auth.add_user(users, add_user, password)
            typer.echo(f"用户 {add_user} 已写入 {users}（密码只保存加盐散列）。")
            return
        if add_token:
            data.mkdir(parents=True, exist_ok=True, mode=0o700)
            token = auth.new_token(tokens, add_token)
            typer.echo(f"已为 {add_token} 生成 API 令牌（只显示这一次，请妥善保存）：\n{token}\n"
                       f"调用时加请求头：Authorization: Bearer <令牌>")
            return
        if bool(certfile) != bool(keyfile):
            raise UserError("--certfile 和 --keyfile 须同时给出。")
        loopback = is_loopback(host)
        typer.echo("正在加载并校验模型……", err=True)
        if workers > 1:  # check and (on first use) train here once; each worker loads the same version
            from nlp.cli_common import ensure_model
            from nlp.registry import Registry

            _auth(data, users, tokens, loopback)
            registry = Registry(models)
            ensure_model(registry, model)
            os.environ[CONFIG_ENV] = json.dumps({
                "data": str(data), "model": model or registry.current(), "models": str(models or ""),
                "users": str(users), "tokens": str(tokens), "loopback": loopback, "secure_cookie": bool(certfile),
                "base": str(base or "")})
            app = "nlp.service.server:app_from_env"
        else:
            app = build(data, model, models, users, tokens, loopback, secure_cookie=bool(certfile), base=base)
    except UserError as e:
        typer.secho(f"错误：{e}", fg=typer.colors.RED, err=True)
        raise typer.Exit(1)
    import uvicorn

    from nlp.service.app import private_tmp

    # every temporary file of the server (uploads spooled by the framework too) in the private folder
    os.environ["TMPDIR"] = str(private_tmp(data).resolve())
    tempfile.tempdir = None

    scheme = "https" if certfile else "http"
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"受理台已启动：{scheme}://{shown}:{port}/ （接口文档 /docs；按 Ctrl+C 停止）", err=True)
    if not loopback and not certfile:
        typer.echo("提醒：未启用 HTTPS，密码和线索以明文在网络上传输。请用 --certfile/--keyfile 启用 HTTPS，"
                   "或只在可信的内部网络中使用。", err=True)
    uvicorn.run(app, host=host, port=port, ssl_certfile=str(certfile) if certfile else None,
                ssl_keyfile=str(keyfile) if keyfile else None, server_header=False, proxy_headers=False,
                log_level="info", timeout_keep_alive=5, factory=workers > 1, workers=max(workers, 1))


def serve_main() -> None:
    serve_app(prog_name="serve.py")
