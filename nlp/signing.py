"""Trust in model files: this installation's signing key, SHA-256 of files, the canonical form of
a manifest that the key signs, and reading a version's files without following links.
(nlp.registry uses these; a pickle runs code when loaded, so nothing else is loaded.)"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import secrets
import stat
import sys
from pathlib import Path

from nlp.errors import UserError
from nlp.io import write_text_atomic

TRACKED_LIBRARIES = ("scikit-learn", "numpy", "scipy", "joblib", "pandas")


def _read_secure(dir_fd: int, name: str, version: str) -> bytes:
    """Read a file of a version folder once, through one descriptor opened without following
    links and without blocking (a FIFO must not hang us); only a regular file owned by this
    user and writable by nobody else is accepted."""
    flags = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except FileNotFoundError:
        raise UserError(f"模型版本 {version} 缺少文件 {name}，拒绝加载。") from None
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise UserError(f"模型版本 {version} 的文件 {name} 是符号链接，拒绝加载。") from None
        raise UserError(f"模型版本 {version} 的文件 {name} 无法打开（{e.strerror}），拒绝加载。") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise UserError(f"模型版本 {version} 的 {name} 不是普通文件，拒绝加载。")
        if st.st_uid != os.geteuid():
            raise UserError(f"模型版本 {version} 的文件 {name} 属于其他用户，拒绝加载。")
        if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
            raise UserError(f"模型版本 {version} 的文件 {name} 可被其他用户改写，拒绝加载。")
        chunks = []
        while True:
            block = os.read(fd, 1 << 20)
            if not block:
                break
            chunks.append(block)
        return b"".join(chunks)
    finally:
        os.close(fd)


def key_path() -> Path:
    env = os.environ.get("JJJC_KEY_FILE")
    if env:
        return Path(env)
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "jjjc-clue-nlp" / "model-signing.key"


def _key(create: bool) -> bytes | None:
    path = key_path()
    if path.exists():
        return path.read_bytes().strip()
    if not create:
        return None
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32).encode()
    write_text_atomic(path, key.decode(), private=True)
    os.chmod(path, 0o600)
    return key


def library_versions() -> dict[str, str]:
    from importlib.metadata import version

    libs = {name: version(name) for name in TRACKED_LIBRARIES}
    libs["python"] = "%d.%d" % sys.version_info[:2]
    from nlp.model import MODEL_FORMAT

    libs["clue-model"] = MODEL_FORMAT  # a model of older code decides differently: rebuild it
    return libs


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _canonical(manifest: dict) -> bytes:
    body = {k: v for k, v in manifest.items() if k != "signature"}
    return json.dumps(body, ensure_ascii=False, sort_keys=True).encode("utf-8")
