"""Login for the intake desk: users with salted scrypt password hashes, API tokens for systems,
server-side sessions with a CSRF token each, and a brake on password guessing.

Files (one entry a line, ``#`` comments), both written private (0600):
- users:  ``name:scrypt$n$r$p$salt_hex$hash_hex``
- tokens: ``name:sha256_hex`` (the token itself is shown once when it is made, never stored)
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path

from nlp.errors import UserError
from nlp.io import write_text_atomic
from nlp.service.store import PrivateDB

SCRYPT = {"n": 2 ** 14, "r": 8, "p": 1}
NAME = re.compile(r"^[^\s:#]{1,64}$")
SESSION_HOURS = 12
MIN_PASSWORD = 8


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, **SCRYPT)
    return f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(digest) // 2)
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(got.hex(), digest)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def read_entries(path: Path | None, what: str) -> dict[str, str]:
    """name -> stored value from a users or tokens file ({} when the file does not exist)."""
    if path is None or not path.exists():
        return {}
    out: dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise UserError(f"无法读取{what}文件 {path}：{type(e).__name__}") from None
    for n, line in enumerate(lines, 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, value = line.partition(":")
        if not sep or not NAME.match(name) or not value:
            raise UserError(f"{what}文件 {path} 第 {n} 行格式不对（应为“名称:散列值”）。")
        out[name] = value
    return out


def add_entry(path: Path, name: str, value: str, what: str) -> None:
    """Add or replace one entry; the file is rewritten atomically and stays private."""
    if not NAME.match(name):
        raise UserError(f"{what}名称不能为空，不能含空格、冒号或 #，最长 64 个字符。")
    entries = read_entries(path, what)
    entries[name] = value
    text = f"# 受理台{what}（由 serve.py 生成；请勿手工写入明文）\n" + "".join(f"{k}:{v}\n" for k, v in entries.items())
    write_text_atomic(path, text, private=True)


def add_user(path: Path, name: str, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise UserError(f"密码至少 {MIN_PASSWORD} 位。")
    add_entry(path, name, hash_password(password), "用户")


def new_token(path: Path, name: str) -> str:
    token = secrets.token_urlsafe(32)
    add_entry(path, name, _token_hash(token), "令牌")
    return token


@dataclass
class Session:
    id: str
    user: str
    csrf: str
    expires: float


SESSION_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    key     TEXT PRIMARY KEY,  -- sha256 of the cookie value: the file holds no usable session
    user    TEXT NOT NULL,
    csrf    TEXT NOT NULL,
    expires REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS failures (key TEXT NOT NULL, at REAL NOT NULL);
CREATE INDEX IF NOT EXISTS failures_key ON failures (key, at);
"""
MAX_FAILURES, FAILURE_WINDOW = 5, 300  # failed logins of one name or address in seconds


@dataclass
class Auth:
    """Who may use the desk. ``required`` is False only on a loopback address with no users and
    no tokens configured: then the one person at this computer is the user. Sessions and failed
    logins live in a private SQLite file (shared by the server's worker processes)."""

    users: dict[str, str] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # name -> sha256 of the token
    secure_cookie: bool = False
    state: Path | None = None  # the sessions database; required when users are configured
    local_csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))

    def __post_init__(self):
        self._db = PrivateDB(self.state, SESSION_SCHEMA, "会话数据库") if self.users and self.state else None
        if self.users and self._db is None:
            raise ValueError("a sessions database is needed for user logins")

    @classmethod
    def from_files(cls, users: Path | None, tokens: Path | None, state: Path, secure_cookie: bool = False) -> "Auth":
        return cls(read_entries(users, "用户"), read_entries(tokens, "令牌"), secure_cookie, state)

    @property
    def required(self) -> bool:
        return bool(self.users or self.tokens)

    # ---------------------------------------------------------------- tokens
    def token_user(self, token: str) -> str | None:
        digest = _token_hash(token)
        found = None
        for name, stored in self.tokens.items():  # compare every entry: no timing hint
            if hmac.compare_digest(digest, stored):
                found = name
        return found

    # ---------------------------------------------------------------- login
    def login(self, user: str, password: str, client: str) -> Session | None:
        """A new session, or None. Raises UserError while too many recent failures block the
        name or the address (5 in 5 minutes)."""
        now = time.time()
        keys = (f"u:{user}", f"c:{client}")
        self._db.write("DELETE FROM failures WHERE at < ?", (now - FAILURE_WINDOW,))
        for k in keys:
            if self._db.query("SELECT COUNT(*) FROM failures WHERE key = ?", (k,))[1][0][0] >= MAX_FAILURES:
                raise UserError("登录失败次数过多，请 5 分钟后再试。")
        stored = self.users.get(user)
        # a dummy hash for unknown names keeps the answer time the same
        ok = verify_password(password, stored or _DUMMY) and stored is not None
        if not ok:
            for k in keys:
                self._db.write("INSERT INTO failures (key, at) VALUES (?, ?)", (k, now))
            return None
        for k in keys:
            self._db.write("DELETE FROM failures WHERE key = ?", (k,))
        self._db.write("DELETE FROM sessions WHERE expires < ?", (now,))
        session = Session(secrets.token_urlsafe(32), user, secrets.token_urlsafe(24), now + SESSION_HOURS * 3600)
        self._db.write("INSERT INTO sessions (key, user, csrf, expires) VALUES (?, ?, ?, ?)",
                       (_token_hash(session.id), session.user, session.csrf, session.expires))
        return session

    def session(self, sid: str | None) -> Session | None:
        if not sid or self._db is None:
            return None
        rows = self._db.query("SELECT user, csrf, expires FROM sessions WHERE key = ?", (_token_hash(sid),))[1]
        if not rows or rows[0][2] < time.time():
            return None
        return Session(sid, *rows[0])

    def logout(self, sid: str | None) -> None:
        if sid and self._db is not None:
            self._db.write("DELETE FROM sessions WHERE key = ?", (_token_hash(sid),))


_DUMMY = hash_password(secrets.token_urlsafe(12))
