"""Uploaded files classified in the background, with progress the page can poll.

A job is a folder in the desk's private temporary folder: the upload, ``status.json`` (written
atomically after each chunk) and the result. The state lives in files, not in memory, so any
server process (uvicorn ``--workers`` > 1) can answer for a job another one runs. Jobs are
visible to the user who started them only; their folders go after the result is fetched, or
after an hour.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import shutil
import threading
import time
from pathlib import Path

from nlp.errors import UserError
from nlp.io import write_text_atomic

log = logging.getLogger("jjjc.desk")
_JOB_ID = re.compile(r"^[0-9a-f]{32}$")
KEEP_SECONDS = 3600


class Jobs:
    """Start, follow and collect file jobs of a ``Desk`` under ``root`` (a private folder)."""

    def __init__(self, desk, root: Path, keep_seconds: int = KEEP_SECONDS):
        self.desk = desk
        self.root = Path(root)
        self.keep_seconds = keep_seconds
        self.root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.sweep()

    def sweep(self) -> None:
        """Remove the folders of jobs older than ``keep_seconds`` (a crashed or abandoned run)."""
        stale = time.time() - self.keep_seconds
        for d in self.root.iterdir():
            try:
                if d.is_dir() and d.stat().st_mtime < stale:
                    shutil.rmtree(d, ignore_errors=True)
            except OSError:
                pass

    # ------------------------------------------------------------------ state
    def _dir(self, job: str) -> Path:
        if not _JOB_ID.match(job or ""):
            raise KeyError(job)
        return self.root / job

    def _write(self, job: str, **state) -> None:
        write_text_atomic(self._dir(job) / "status.json", json.dumps(state, ensure_ascii=False), private=True)

    def status(self, job: str, user: str) -> dict:
        """The job's state for ``user``; KeyError when there is no such job of theirs."""
        try:
            state = json.loads((self._dir(job) / "status.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise KeyError(job) from None
        if state.get("user") != user:
            raise KeyError(job)
        return state

    # ------------------------------------------------------------------ work
    def start(self, upload: Path, name: str, column: str, user: str) -> str:
        """Take over ``upload`` (moved into the job's folder) and classify it in a thread."""
        job = secrets.token_hex(16)
        folder = self._dir(job)
        folder.mkdir(mode=0o700)
        suffix = Path(name).suffix.lower()
        source, target = folder / f"input{suffix}", folder / f"result{suffix}"
        shutil.move(str(upload), source)
        out_name = f"{Path(name).stem}_分类结果{suffix}"
        base = {"user": user, "name": out_name, "result": target.name}
        self._write(job, **base, status="running", done=0, total=None)
        threading.Thread(target=self._run, args=(job, base, source, target, column), daemon=True,
                         name=f"job-{job[:6]}").start()
        return job

    def _run(self, job: str, base: dict, source: Path, target: Path, column: str) -> None:
        from nlp.io import read_chunks

        done = 0
        try:
            total = sum(len(c.frame) for c in read_chunks(source, 2000))
            self._write(job, **base, status="running", done=0, total=total)

            def progress(n: int) -> None:
                nonlocal done
                done = n
                self._write(job, **base, status="running", done=n, total=total)

            n = self.desk.classify_file(source, target, column, progress=progress)
            self._write(job, **base, status="done", done=n, total=n)
        except UserError as e:
            self._write(job, **base, status="error", done=done, total=None, detail=str(e))
        except Exception as e:  # the type only: the message could quote the file
            log.error("file job failed: %s", type(e).__name__)
            self._write(job, **base, status="error", done=done, total=None, detail="处理文件时出现内部错误。")
        finally:
            source.unlink(missing_ok=True)

    def result(self, job: str, user: str) -> tuple[Path, str]:
        """(path of the result, the name to download it as) of a finished job of ``user``."""
        state = self.status(job, user)
        if state.get("status") != "done":
            raise KeyError(job)
        return self._dir(job) / state["result"], state["name"]

    def remove(self, job: str) -> None:
        shutil.rmtree(self._dir(job), ignore_errors=True)
