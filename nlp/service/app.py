"""The desk's HTTP routes: the page, the API (/api/v1/...), /docs and /healthz.

Every error is JSON ``{"detail": "中文说明"}`` with its status; request bodies (clue text) are
never logged and never echoed in an error.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from pathlib import Path
from typing import Literal, Optional
from urllib.parse import quote

from fastapi import Depends, FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from nlp.errors import UserError
from nlp.io import TableWriter, file_format
from nlp.service.auth import Auth
from nlp.service.guard import Guard, Limits
from nlp.service.jobs import Jobs
from nlp.service.results import Desk
from nlp.service.reviews import CONFIRMED, STATUSES, ReviewStore

STATIC = Path(__file__).resolve().parent / "static"
COOKIE = "jjjc_session"
SAFE = {"GET", "HEAD", "OPTIONS"}
MEDIA = {"csv": "text/csv; charset=utf-8", "tsv": "text/tab-separated-values; charset=utf-8",
         "jsonl": "application/x-ndjson; charset=utf-8",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
         "parquet": "application/vnd.apache.parquet"}
STATUS_TEXT = {404: "找不到该地址。", 405: "不支持该请求方法。", 401: "请先登录。", 403: "没有权限。"}


class Item(BaseModel):
    id: Optional[str] = Field(None, max_length=200, description="调用方的编号，原样返回")
    text: str = Field(..., description="线索或通报文本")


class ClassifyIn(BaseModel):
    texts: Optional[list[str]] = Field(None, description="文本列表（与 items 二选一）")
    items: Optional[list[Item]] = Field(None, description="带编号的文本列表（与 texts 二选一）")


class ReviewIn(BaseModel):
    text: str = Field(..., description="线索文本")
    labels: dict[str, str] = Field(..., description="各标签列的代码，如 {\"质量\": \"合格\", \"维度\": \"懒|软\"}")
    reviewer: str = Field("", max_length=64, description="核对人姓名（已核对时必填）")
    status: Literal["已核对", "待核对"] = "已核对"
    model: dict[str, Optional[str]] = Field(default_factory=dict, description="模型给出的标签（留作对照）")
    source_id: str = Field("", max_length=200)


class ReviewUpdate(BaseModel):
    labels: dict[str, str]
    reviewer: str = Field("", max_length=64)
    status: Literal["已核对", "待核对"] = "已核对"


class LoginIn(BaseModel):
    username: str = Field(..., max_length=64)
    password: str = Field(..., max_length=256)


def _fail(status: int, message: str):
    raise HTTPException(status_code=status, detail=message)


def create_app(desk: Desk, store: ReviewStore, auth: Auth, data_dir: Path, loopback: bool = True,
               limits: Limits | None = None) -> FastAPI:
    limits = limits or Limits()
    app = FastAPI(title="受理台 API", version="1", docs_url=None, redoc_url=None,
                  description="问题线索分类、质量评估与人工核对。所有接口返回 JSON；错误为 {\"detail\": \"中文说明\"}。")
    app.add_middleware(Guard, limits=limits, loopback=loopback)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    tmp_dir = private_tmp(data_dir)
    jobs = Jobs(desk, tmp_dir / "jobs")

    # ------------------------------------------------------------------ errors
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) and not exc.detail.isascii() else \
            STATUS_TEXT.get(exc.status_code, "请求无法处理。")
        return JSONResponse({"detail": detail}, status_code=exc.status_code, headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            return JSONResponse({"detail": "请求体不是合法的 JSON。"}, status_code=400)
        # where, never the value (it may be clue text)
        where = "；".join(".".join(str(x) for x in e.get("loc", ()) if x != "body") or "请求体" for e in errors[:5])
        return JSONResponse({"detail": f"请求缺少必填字段或字段类型不对：{where}"}, status_code=422)

    @app.exception_handler(UserError)
    async def user_error(request: Request, exc: UserError):
        return JSONResponse({"detail": str(exc)}, status_code=400)

    # ------------------------------------------------------------------ auth
    def principal(request: Request) -> str:
        if not auth.required:
            return ""
        header = request.headers.get("authorization", "")
        if header[:7].lower() == "bearer ":
            name = auth.token_user(header[7:].strip())
            if name is None:
                _fail(401, "API 令牌无效。")
            return f"令牌:{name}"
        session = auth.session(request.cookies.get(COOKIE))
        if session is None:
            _fail(401, "请先登录。")
        if request.method not in SAFE and request.headers.get("x-csrf-token", "") != session.csrf:
            _fail(403, "请求校验失败（CSRF），请刷新页面后重试。")
        return session.user

    @app.get("/api/v1/session", summary="当前登录状态和 CSRF 令牌（页面用）")
    def session_info(request: Request):
        if not auth.required:
            return {"login_required": False, "user": "", "csrf": auth.local_csrf, "model_version": desk.version}
        s = auth.session(request.cookies.get(COOKIE))
        return {"login_required": True, "user": s.user if s else "", "csrf": s.csrf if s else "",
                "model_version": desk.version if s else ""}

    @app.post("/api/v1/login", summary="用户登录（设置会话 Cookie）")
    def login(body: LoginIn, request: Request, response: Response):
        if not auth.users:
            _fail(400, "本受理台未配置用户登录。")
        try:
            session = auth.login(body.username, body.password, request.client.host if request.client else "")
        except UserError as e:
            _fail(429, str(e))
        if session is None:
            _fail(401, "用户名或密码不对。")
        response.set_cookie(COOKIE, session.id, httponly=True, samesite="strict", secure=auth.secure_cookie,
                            max_age=12 * 3600, path="/")
        return {"user": session.user, "csrf": session.csrf}

    @app.post("/api/v1/logout", summary="退出登录")
    def logout(request: Request, response: Response):
        auth.logout(request.cookies.get(COOKIE))
        response.delete_cookie(COOKIE, path="/")
        return {"ok": True}

    # ------------------------------------------------------------------ pages
    @app.get("/", include_in_schema=False)
    def index():
        return FileResponse(STATIC / "index.html")

    @app.get("/docs", include_in_schema=False)
    def docs():
        return FileResponse(STATIC / "docs.html")

    @app.get("/healthz", summary="健康检查")
    def healthz():
        return {"status": "ok", "model_version": desk.version}

    # ------------------------------------------------------------------ API
    @app.get("/api/v1/taxonomy", summary="分类体系：各标签列、代码和中文名称（含自定义方案）")
    def taxonomy(user: str = Depends(principal)):
        return desk.taxonomy_json()

    @app.post("/api/v1/classify", summary="分类：每条结果的字段和代码与 classify.py 的输出行相同")
    async def classify(body: ClassifyIn, user: str = Depends(principal)):
        if (body.texts is None) == (body.items is None):
            _fail(422, "请给出 texts 或 items 之一。")
        if body.texts is not None:
            ids, texts = [str(i) for i in range(1, len(body.texts) + 1)], body.texts
        else:
            ids = [it.id if it.id is not None else str(i) for i, it in enumerate(body.items, 1)]
            texts = [it.text for it in body.items]
        if not texts:
            _fail(400, "没有要分类的文本。")
        if len(texts) > limits.max_texts:
            _fail(413, f"一次最多 {limits.max_texts} 条；更多请分批或上传文件。")
        if sum(map(len, texts)) > limits.max_chars:
            _fail(413, f"文本总长超过 {limits.max_chars} 字，请分批提交。")
        # the Annotator's own thread, batched with the requests waiting with it; the event loop stays free
        results = await asyncio.wrap_future(desk.submit(ids, texts))
        return {"model_version": desk.version, "results": results}

    async def save_upload(file: UploadFile) -> tuple[Path, str, str]:
        """The upload in a private temporary file: (path, file name, format)."""
        name = Path(file.filename or "").name
        fmt = file_format(name)  # UserError -> 400 for other types
        fd, src = tempfile.mkstemp(suffix=Path(name).suffix.lower(), dir=tmp_dir)
        try:
            with os.fdopen(fd, "wb") as fh:
                while chunk := await file.read(1 << 20):
                    fh.write(chunk)
        except BaseException:
            Path(src).unlink(missing_ok=True)
            raise
        return Path(src), name, fmt

    @app.post("/api/v1/files", summary="上传 CSV/XLSX/JSONL/Parquet 文件，返回同格式的分类结果文件")
    async def files(file: UploadFile = File(..., description="CSV（UTF-8 或 GB18030）、XLSX、JSONL 或 Parquet"),
                    column: str = Form("text", max_length=100, description="文本所在的列名"),
                    user: str = Depends(principal)):
        src, name, fmt = await save_upload(file)
        suffix = src.suffix
        dst = src.with_name(src.stem + "-out" + suffix)
        try:
            await run_in_threadpool(desk.classify_file, src, dst, column)
            data = dst.read_bytes()
        finally:
            for p in (src, dst):
                p.unlink(missing_ok=True)
        out_name = f"{Path(name).stem}_分类结果{suffix}"
        return Response(data, media_type=MEDIA.get(fmt, "application/octet-stream"), headers=_attachment(out_name))

    @app.post("/api/v1/jobs", status_code=202,
              summary="上传文件并在后台分类：返回任务编号，用 GET /api/v1/jobs/{job} 查看进度")
    async def start_job(file: UploadFile = File(..., description="CSV（UTF-8 或 GB18030）、XLSX、JSONL 或 Parquet"),
                        column: str = Form("text", max_length=100, description="文本所在的列名"),
                        user: str = Depends(principal)):
        src, name, _ = await save_upload(file)
        try:
            return {"job": jobs.start(src, name, column, user)}
        finally:
            src.unlink(missing_ok=True)

    @app.get("/api/v1/jobs/{job}", summary="后台任务的进度：status（running / done / error）、done、total、detail")
    def job_status(job: str, user: str = Depends(principal)):
        try:
            state = jobs.status(job, user)
        except KeyError:
            _fail(404, "没有这个任务（或已过期）。")
        return {k: state.get(k) for k in ("status", "done", "total", "detail", "name")}

    @app.get("/api/v1/jobs/{job}/result", summary="下载已完成任务的结果文件（下载后任务即删除）")
    def job_result(job: str, user: str = Depends(principal)):
        try:
            path, out_name = jobs.result(job, user)
        except KeyError:
            _fail(404, "没有这个已完成的任务（或已过期）。")
        data = path.read_bytes()
        jobs.remove(job)
        return Response(data, media_type=MEDIA.get(file_format(out_name), "application/octet-stream"),
                        headers=_attachment(out_name))

    @app.post("/api/v1/reviews", summary="保存人工核对结果（已核对）或放入待核对列表")
    def add_review(body: ReviewIn, user: str = Depends(principal)):
        labels = desk.check_labels(body.text, body.labels)
        reviewer = _reviewer(body.reviewer, body.status, user)
        model = {k: str(v or "") for k, v in body.model.items() if k in desk.taxonomy}
        rid = store.add(body.text, labels, body.status, reviewer, model, desk.version, body.source_id, user)
        return {"id": rid, "status": body.status}

    @app.get("/api/v1/reviews", summary="待核对 / 已核对列表")
    def list_reviews(status: Optional[str] = None, limit: int = 50, offset: int = 0, user: str = Depends(principal)):
        if status is not None and status not in STATUSES:
            _fail(400, f"status 只能是 {' 或 '.join(STATUSES)}。")
        limit = max(1, min(limit, 500))
        return {"counts": store.counts(), "items": store.list(status, limit, max(offset, 0))}

    @app.get("/api/v1/reviews/export", summary="导出为 XLSX（可直接用 train.py --add 读入，只取已核对的行）")
    def export_reviews(status: Optional[str] = None, user: str = Depends(principal)):
        if status is not None and status not in STATUSES:
            _fail(400, f"status 只能是 {' 或 '.join(STATUSES)}。")
        frame = store.frame(desk.taxonomy.ids, status)
        fd, path = tempfile.mkstemp(suffix=".xlsx", dir=tmp_dir)
        os.close(fd)
        try:
            with TableWriter(path) as w:
                w.write(frame)
            data = Path(path).read_bytes()
        finally:
            Path(path).unlink(missing_ok=True)
        return Response(data, media_type=MEDIA["xlsx"], headers=_attachment(f"受理台核对记录_{status or '全部'}.xlsx"))

    @app.get("/api/v1/reviews/{rid}", summary="一条核对记录")
    def get_review(rid: int, user: str = Depends(principal)):
        record = store.get(rid)
        if record is None:
            _fail(404, f"没有编号为 {rid} 的记录。")
        return record

    @app.put("/api/v1/reviews/{rid}", summary="修改一条记录的标签，或把待核对的记录确认为已核对")
    def update_review(rid: int, body: ReviewUpdate, user: str = Depends(principal)):
        record = store.get(rid)
        if record is None:
            _fail(404, f"没有编号为 {rid} 的记录。")
        labels = desk.check_labels(record["text"], body.labels)
        store.update(rid, labels, body.status, _reviewer(body.reviewer, body.status, user), user)
        return {"id": rid, "status": body.status}

    return app


def private_tmp(data_dir: Path) -> Path:
    """The desk's own temporary folder (0700): uploads and results while they are processed.
    Files a crashed run left behind (older than an hour) are removed."""
    tmp_dir = data_dir / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(tmp_dir, 0o700)
    stale = time.time() - 3600
    for p in tmp_dir.iterdir():
        try:
            if p.is_file() and p.stat().st_mtime < stale:
                p.unlink()
        except OSError:
            pass
    return tmp_dir


def _reviewer(name: str, status: str, user: str) -> str:
    name = name.strip() or (user if user and not user.startswith("令牌:") else "")
    if status == CONFIRMED and not name:
        _fail(400, "请填写核对人姓名。")
    return name


def _attachment(name: str) -> dict:
    return {"Content-Disposition": f"attachment; filename=\"result{Path(name).suffix}\"; "
                                   f"filename*=UTF-8''{quote(name)}"}

