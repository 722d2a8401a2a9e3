"""Model versions on disk: atomic save, SHA-256 manifest with a local signature, promotion, rollback.

Layout under ``models/``::

    versions/<version>/model.joblib   the fitted ClueClassifier (joblib pickle)
    versions/<version>/report.md|json its held-out evaluation
    versions/<version>/manifest.json  SHA-256 of each file, library versions, corpus hash, signature
    CURRENT                           the version classify.py uses
    HISTORY                           earlier current versions, for --rollback

A pickle runs code when loaded, so a model file is loaded only when its manifest is signed
with this installation's key (HMAC-SHA256, key kept outside the models folder) and every
file's hash matches. Anything else is refused with a clear message.
"""

from __future__ import annotations

import datetime as _dt
import errno
import hashlib
import hmac
import io
import json
import os
import re
import secrets
import shutil
import stat
import sys
from contextlib import contextmanager
from pathlib import Path

from nlp.cli_zh import command
from nlp.errors import UserError
from nlp.io import write_text_atomic

MODEL_FILE = "model.joblib"
MANIFEST = "manifest.json"
TRACKED_LIBRARIES = ("scikit-learn", "numpy", "scipy", "joblib", "pandas")
# What save() produces: "<YYYYmmdd>-<HHMMSS>-<corpus hash[:6] | 'model' | n>". Every name read
# from CURRENT, HISTORY, the command line or the versions folder must match it.
VERSION_RE = re.compile(r"^\d{8}-\d{6}-[0-9A-Za-z]{1,16}$")


def valid_version(name) -> bool:
    return isinstance(name, str) and VERSION_RE.fullmatch(name) is not None


def _check_version(name, where: str = "") -> str:
    if not valid_version(name):
        raise UserError(f"模型版本名 {str(name)[:80]!r}{where} 不合法（应形如 20261122-093000-ab12cd），拒绝使用。")
    return name


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


class ModelMismatch(UserError):
    """The model was written by other library versions; it must be rebuilt."""


def default_root() -> Path:
    return Path(os.environ.get("JJJC_MODELS_DIR") or Path(__file__).resolve().parent.parent / "models")


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


class Registry:
    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root else default_root()
        self.versions_dir = self.root / "versions"
        self._remove_stale_temporaries()

    # ---------------------------------------------------------------- state
    def current(self) -> str | None:
        f = self.root / "CURRENT"
        if not f.exists():
            return None
        v = f.read_text(encoding="utf-8").strip()
        if not v:
            return None
        _check_version(v, "（CURRENT 中）")
        return v if (self.versions_dir / v).is_dir() else None

    def history(self) -> list[str]:
        f = self.root / "HISTORY"
        if not f.exists():
            return []
        try:
            return [v for v in json.loads(f.read_text(encoding="utf-8"))
                    if valid_version(v) and (self.versions_dir / v).is_dir()]
        except (json.JSONDecodeError, TypeError):
            return []

    def versions(self) -> list[dict]:
        out = []
        if not self.versions_dir.is_dir():
            return out
        for d in sorted(self.versions_dir.iterdir()):
            m = d / MANIFEST
            if not valid_version(d.name) or d.is_symlink() or not m.exists():
                continue
            try:
                out.append(json.loads(m.read_text(encoding="utf-8")))
            except json.JSONDecodeError:
                continue
        return out

    def path(self, version: str) -> Path:
        return self.versions_dir / _check_version(version)

    # ----------------------------------------------------------------- save
    @contextmanager
    def lock(self):
        """One training at a time per models folder."""
        import fcntl

        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise UserError("另一个训练任务正在进行，请等它结束后再试。") from None
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def save(self, model, report_json: dict, report_md, info: dict) -> str:
        """Write a new version atomically (temp folder, then rename). Returns its name.

        ``report_md``: the report text, or a function of the version name that returns it.
        """
        import joblib

        stamp = _dt.datetime.now().strftime("%Y%m%d-%H%M%S")
        version = f"{stamp}-{info.get('corpus_hash', '')[:6] or 'model'}"
        n = 1
        while self.path(version).exists():
            n += 1
            version = f"{stamp}-{n}"
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        self._remove_stale_temporaries()
        tmp = self.versions_dir / f".tmp-{version}-{os.getpid()}"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        try:
            joblib.dump(model, tmp / MODEL_FILE)  # uncompressed: loads 3x faster, ~40 MB
            (tmp / "report.json").write_text(json.dumps(report_json, ensure_ascii=False, indent=2), encoding="utf-8")
            (tmp / "report.md").write_text(report_md(version) if callable(report_md) else report_md,
                                           encoding="utf-8")
            manifest = {
                "version": version,
                "created": _dt.datetime.now().isoformat(timespec="seconds"),
                "files": {p.name: sha256_file(p) for p in sorted(tmp.iterdir())},
                "libraries": library_versions(),
                **info,
            }
            manifest["signature"] = hmac.new(_key(create=True), _canonical(manifest), hashlib.sha256).hexdigest()
            (tmp / MANIFEST).write_text(json.dumps(manifest, ensure_ascii=False, indent=2), encoding="utf-8")
            for p in tmp.iterdir():
                with open(p, "rb") as fh:
                    os.fsync(fh.fileno())
            os.rename(tmp, self.path(version))
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return version

    def _remove_stale_temporaries(self) -> None:
        """Half-written versions of a killed training (their process is gone)."""
        if not self.versions_dir.is_dir():
            return
        for d in self.versions_dir.glob(".tmp-*"):
            try:
                pid = int(d.name.rsplit("-", 1)[1])
                if pid <= 0:
                    raise ProcessLookupError
                os.kill(pid, 0)
            except ProcessLookupError:
                shutil.rmtree(d, ignore_errors=True)
            except (ValueError, IndexError, PermissionError):
                continue

    def promote(self, version: str) -> None:
        _check_version(version)
        try:
            previous = self.current()
        except UserError:  # an invalid CURRENT is simply replaced
            previous = None
        if previous and previous != version:
            hist = [v for v in self.history() if v not in (previous, version)] + [previous]
            write_text_atomic(self.root / "HISTORY", json.dumps(hist, ensure_ascii=False))
        write_text_atomic(self.root / "CURRENT", version)

    def rollback(self) -> tuple[str, str]:
        hist = self.history()
        current = self.current()
        if not hist:
            raise UserError("没有可回退的上一个模型版本。")
        target = _check_version(hist[-1])
        write_text_atomic(self.root / "HISTORY", json.dumps(hist[:-1], ensure_ascii=False))
        write_text_atomic(self.root / "CURRENT", target)
        return current or "", target

    def use(self, version: str) -> tuple[str, str]:
        """Make any listed, verified version the current one (e.g. re-enable after rollbacks)."""
        _check_version(version)
        if version not in {m.get("version") for m in self.versions()}:
            raise UserError(f"没有模型版本 {version}。可运行 {command('train.py')} --list 查看。")
        self.verify(version)
        try:
            old = self.current() or ""
        except UserError:
            old = ""
        self.promote(version)
        return old, version

    # ----------------------------------------------------------------- load
    def _open_dir(self, version: str) -> int:
        d = self.path(version)
        if d.is_symlink():
            raise UserError(f"模型版本目录 {version} 是符号链接，拒绝加载。")
        try:
            return os.open(d, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
        except FileNotFoundError:
            raise UserError(f"没有模型版本 {version}。") from None
        except OSError:
            raise UserError(f"模型版本目录 {version} 无法打开或不是目录，拒绝加载。") from None

    def manifest(self, version: str) -> dict:
        dfd = self._open_dir(version)
        try:
            return self._manifest(dfd, version)
        finally:
            os.close(dfd)

    def _manifest(self, dfd: int, version: str) -> dict:
        try:
            os.stat(MANIFEST, dir_fd=dfd, follow_symlinks=False)
        except FileNotFoundError:
            raise UserError(f"模型版本 {version} 缺少清单文件 {MANIFEST}，拒绝加载。") from None
        raw = _read_secure(dfd, MANIFEST, version)
        try:
            m = json.loads(raw.decode("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise UserError(f"模型版本 {version} 的清单文件已损坏，拒绝加载。") from None
        if not isinstance(m, dict):
            raise UserError(f"模型版本 {version} 的清单文件已损坏，拒绝加载。")
        return m

    def verify(self, version: str) -> dict:
        """Check signature and hashes; raise UserError (or ModelMismatch) when anything is off."""
        return self._verified(version)[0]

    def _verified(self, version: str) -> tuple[dict, bytes]:
        """Signed manifest and the model bytes, each read exactly once; the bytes returned are
        the bytes whose SHA-256 was checked."""
        dfd = self._open_dir(version)
        try:
            return self._verified_fd(dfd, version)
        finally:
            os.close(dfd)

    def _verified_fd(self, dfd: int, version: str) -> tuple[dict, bytes]:
        manifest = self._manifest(dfd, version)
        key = _key(create=False)
        expected = hmac.new(key, _canonical(manifest), hashlib.sha256).hexdigest() if key else None
        if not expected or not hmac.compare_digest(expected, str(manifest.get("signature", ""))):
            raise UserError(f"模型版本 {version} 不是本机训练生成的（签名不符），拒绝加载：模型文件加载时会执行代码。"
                            f"请运行 {command('train.py')} 在本机重新训练。")
        files = manifest.get("files", {})
        if not isinstance(files, dict) or MODEL_FILE not in files:
            raise UserError(f"模型版本 {version} 的清单中没有 {MODEL_FILE}，拒绝加载。")
        data = b""
        for name, digest in files.items():
            if not isinstance(name, str) or "/" in name or name in ("", ".", ".."):
                raise UserError(f"模型版本 {version} 的清单含有不合法的文件名，拒绝加载。")
            blob = _read_secure(dfd, name, version)
            if not hmac.compare_digest(hashlib.sha256(blob).hexdigest(), str(digest)):
                raise UserError(f"模型版本 {version} 的文件 {name} 与清单中的 SHA-256 不符（文件被改动或损坏），"
                                f"拒绝加载。可运行 {command('train.py')} --rollback 回到上一版本，或重新训练。")
            if name == MODEL_FILE:
                data = blob
        libs = manifest.get("libraries", {})
        now = library_versions()
        diff = [f"{k} {libs.get(k)}→{now[k]}" for k in now if libs.get(k) != now[k]]
        if diff:
            raise ModelMismatch(f"模型版本 {version} 由不同版本的库生成（{'，'.join(diff)}），需要重新训练。")
        return manifest, data

    def payload(self, version: str | None = None) -> tuple[dict, bytes]:
        """The verified manifest and model bytes, to ship to other processes or machines (the
        Dask engine), where ``load_payload`` checks them again before unpickling."""
        version = _check_version(version) if version else self.current()
        if not version:
            raise UserError(f"还没有可用的模型。请先运行 {command('train.py')} 训练。")
        return self._verified(version)

    def load(self, version: str | None = None):
        self._remove_stale_temporaries()
        version = _check_version(version) if version else self.current()
        if not version:
            raise UserError(f"还没有可用的模型。请先运行 {command('train.py')} 训练。")
        _, data = self._verified(version)
        import joblib

        return joblib.load(io.BytesIO(data))  # exactly the bytes that were hashed


def load_payload(manifest: dict, data: bytes):
    """Unpickle model bytes received from another process only if they are the bytes the signed
    manifest names: the SHA-256 must match, the signature must match where this machine holds the
    installation key, and the libraries must be the versions the model was built with."""
    import joblib

    version = str(manifest.get("version", "?"))
    digest = str(manifest.get("files", {}).get(MODEL_FILE, ""))
    if not digest or not hmac.compare_digest(hashlib.sha256(data).hexdigest(), digest):
        raise UserError(f"收到的模型 {version} 与清单中的 SHA-256 不符，拒绝加载。")
    key = _key(create=False)
    if key is not None:
        expected = hmac.new(key, _canonical(manifest), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, str(manifest.get("signature", ""))):
            raise UserError(f"收到的模型 {version} 的签名与本机密钥不符，拒绝加载。")
    libs = manifest.get("libraries", {})
    now = library_versions()
    diff = [f"{k} {libs.get(k)}→{now[k]}" for k in now if libs.get(k) != now[k]]
    if diff:
        raise ModelMismatch(f"模型 {version} 由不同版本的库生成（{'，'.join(diff)}），本机无法使用。")
    return joblib.load(io.BytesIO(data))
