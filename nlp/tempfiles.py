"""Temporary files that hold clue text: private (0600/0700), beside the output, never left behind.

Every temporary is named ``.<target name>.<pid>.<random>.tmp`` in the target's own folder. A run
killed with -9 cannot remove its own; the next write into that folder removes those whose
process is gone (and the unnamed-pid ones older code left). openpyxl's write-only mode spools
each sheet to a file in ``tempfile``'s folder (``/tmp`` by default, readable there by name):
``private_tempdir`` points it at a 0700 folder of this form for the duration of the write.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

_OURS = re.compile(r"^\..+?\.(?:(?P<pid>\d+)\.)?[a-z0-9_]{8}\.tmp$")


def prefix(target: Path) -> str:
    return f".{target.name}.{os.getpid()}."


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(folder: Path) -> list[str]:
    """Remove temporaries of runs that are gone from ``folder``; return their names."""
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        m = _OURS.match(entry.name)
        if not m or (m["pid"] and (int(m["pid"]) == os.getpid() or _alive(int(m["pid"])))):
            continue
        try:
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            elif entry.stat(follow_symlinks=False).st_uid == os.geteuid():
                os.unlink(entry.path)
            removed.append(entry.name)
        except OSError:
            pass
    return removed


@contextmanager
def private_tempdir(target: Path):
    """Point ``tempfile`` (and so openpyxl's spool files) at a private folder beside ``target``."""
    path = Path(tempfile.mkdtemp(prefix=prefix(target), suffix=".tmp", dir=target.parent))  # 0700
    saved = tempfile.tempdir
    tempfile.tempdir = str(path)
    try:
        yield path
    finally:
        tempfile.tempdir = saved
        shutil.rmtree(path, ignore_errors=True)
