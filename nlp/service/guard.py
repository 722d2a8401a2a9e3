"""The desk's outer layer (plain ASGI middleware): request size limits, the Host check against
DNS rebinding on a loopback desk, cross-site request refusal, security headers, and a catch-all
that answers a JSON 500 and logs only the route and the error's type (never a body or text)."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

log = logging.getLogger("nlp.service")

LOOPBACK_NAMES = {"127.0.0.1", "localhost", "::1", "[::1]"}
HEADERS = [
    (b"content-security-policy", b"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                 b"connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
                                 b"form-action 'self'"),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


@dataclass
class Limits:
    max_body: int = 4 << 20  # bytes of a JSON request
    max_upload: int = 32 << 20  # bytes of a file upload
    max_texts: int = 1000  # texts in one classify request
    max_chars: int = 2_000_000  # characters in one classify request


class TooLarge(Exception):
    pass


def _json(status: int, message: str) -> tuple[dict, dict]:
    body = json.dumps({"detail": message}, ensure_ascii=False).encode("utf-8")
    start = {"type": "http.response.start", "status": status,
             "headers": [(b"content-type", b"application/json; charset=utf-8"),
                         (b"content-length", str(len(body)).encode())]}
    return start, {"type": "http.response.body", "body": body}


RECYCLE_AFTER = 16  # requests on one keep-alive connection before it is closed (see below)


class Guard:
    def __init__(self, app, limits: Limits, loopback: bool):
        self.app = app
        self.limits = limits
        self.loopback = loopback
        self._served: dict[tuple, int] = {}

    def _recycle(self, scope) -> bool:
        """Close a keep-alive connection now and then. With several worker processes, the one
        that wakes first accepts every waiting connection and keeps it; a client that reconnects
        goes to a worker that is free to accept, so the load evens out."""
        client = scope.get("client")
        if not client:
            return False
        if len(self._served) > 10_000:
            self._served.clear()
        n = self._served.get(tuple(client), 0) + 1
        self._served[tuple(client)] = n
        return n % RECYCLE_AFTER == 0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        path = scope.get("path", "")
        started = False
        over = False  # the body passed the limit: whatever the app answers, the client gets a 413

        recycle = self._recycle(scope)

        def with_headers(message):
            extra = list(HEADERS)
            if recycle:
                extra.append((b"connection", b"close"))
            if not path.startswith("/static/"):
                extra.append((b"cache-control", b"no-store"))
            return {**message, "headers": list(message.get("headers", [])) + extra}

        async def send_guarded(message):
            nonlocal started
            if over:  # replace the app's answer (or the missing one) by a 413, once
                if not started:
                    started = True
                    start, body = _json(413, f"请求过大（上限 {limit >> 20} MB）。")
                    await send(with_headers(start))
                    await send(body)
                return
            if message["type"] == "http.response.start":
                started = True
                message = with_headers(message)
            await send(message)

        async def answer(status: int, text: str):
            for m in _json(status, text):
                await send_guarded(m)

        refusal = self._refusal(scope, headers)
        if refusal:
            return await answer(*refusal)
        limit = self.limits.max_upload if path == "/api/v1/files" else self.limits.max_body
        try:
            declared = int(headers.get("content-length", "0") or 0)
        except ValueError:
            return await answer(400, "Content-Length 无效。")
        if declared > limit:
            return await answer(413, f"请求过大（上限 {limit >> 20} MB）。")
        seen = 0

        async def receive_limited():
            nonlocal seen, over
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    over = True
                    raise TooLarge()
            return message

        try:
            await self.app(scope, receive_limited, send_guarded)
        except TooLarge:
            if not started:
                await send_guarded({"type": "http.response.start"})
        except Exception as e:  # never a traceback (it may quote clue text) in a log or a response
            log.error("请求处理出错：%s %s（%s）", scope.get("method"), path, type(e).__name__)
            if not started:
                await answer(500, "服务内部错误，请稍后重试；如持续出现请联系管理员。")

    def _refusal(self, scope, headers: dict) -> tuple[int, str] | None:
        host = headers.get("host", "")
        name = urlsplit(f"//{host}").hostname or ""
        if self.loopback and name not in LOOPBACK_NAMES and name.strip("[]") not in LOOPBACK_NAMES:
            return 400, "本受理台只接受本机访问（请用 http://127.0.0.1 打开）。"
        if scope.get("method") in ("GET", "HEAD", "OPTIONS"):
            return None
        # a page of another site may not post here from the officer's browser
        if headers.get("sec-fetch-site") in ("cross-site", "same-site"):
            return 403, "拒绝跨站请求。"
        origin = headers.get("origin")
        if origin and origin != "null" and urlsplit(origin).netloc != host:
            return 403, "拒绝跨站请求。"
        if origin == "null":
            return 403, "拒绝跨站请求。"
        return None
