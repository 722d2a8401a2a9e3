"""Registry hardening: single-read verified loading, version names, stale temporaries, use()."""

import io
import json
import os
import pickle

import pytest

from nlp import registry as reg_mod
from nlp.errors import UserError
from nlp.registry import Registry


@pytest.fixture()
def reg(tmp_path, monkeypatch):
    monkeypatch.setenv("JJJC_KEY_FILE", str(tmp_path / "key"))
    return Registry(tmp_path / "models")


def _save(reg, tag):
    return reg.save({"tag": tag}, {"r": 1}, "report", {"corpus_hash": "abcdef"})


class Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_roundtrip_and_tampered_refused(reg):
    v = _save(reg, 1)
    assert reg.load(v) == {"tag": 1}
    f = reg.path(v) / "model.joblib"
    f.write_bytes(f.read_bytes()[:-3] + b"xyz")
    with pytest.raises(UserError, match="SHA-256"):
        reg.load(v)


def test_symlink_and_fifo_refused(reg, tmp_path):
    v = _save(reg, 1)
    f = reg.path(v) / "model.joblib"
    real = tmp_path / "real.joblib"
    os.rename(f, real)
    os.symlink(real, f)
    with pytest.raises(UserError, match="符号链接"):
        reg.load(v)
    f.unlink()
    os.mkfifo(f)
    with pytest.raises(UserError, match="不是普通文件"):
        reg.load(v)


def test_swap_after_read_does_not_run_code(reg, tmp_path, monkeypatch):
    v = _save(reg, 1)
    marker = tmp_path / "pwned"
    f = reg.path(v) / "model.joblib"
    real_read = reg_mod._read_secure

    def read_then_swap(dfd, name, version):
        data = real_read(dfd, name, version)
        if name == "model.joblib":
            f.write_bytes(pickle.dumps(Evil(str(marker))))
        return data

    monkeypatch.setattr(reg_mod, "_read_secure", read_then_swap)
    assert reg.load(v) == {"tag": 1}
    assert not marker.exists()


def test_bad_names_in_history_current_and_argument(reg):
    v = _save(reg, 1)
    reg.promote(v)
    (reg.root / "HISTORY").write_text(json.dumps(["../../evil_h"]), encoding="utf-8")
    assert reg.history() == []
    with pytest.raises(UserError, match="没有可回退"):
        reg.rollback()
    assert (reg.root / "CURRENT").read_text().strip() == v
    with pytest.raises(UserError, match="不合法"):
        reg.load("../../evil")
    (reg.root / "CURRENT").write_text("../x")
    with pytest.raises(UserError, match="不合法"):
        reg.load()


def test_stale_temporary_removed(reg):
    _save(reg, 1)
    dead = reg.versions_dir / ".tmp-20260101-000000-abcdef-999999999"
    dead.mkdir()
    alive = reg.versions_dir / f".tmp-20260101-000000-abcdef-{os.getpid()}"
    alive.mkdir()
    Registry(reg.root)
    assert not dead.exists() and alive.exists()


def test_use_reenables_newest(reg):
    a = _save(reg, 1)
    reg.promote(a)
    b = _save(reg, 2)
    reg.promote(b)
    assert b != a and reg.rollback()[1] == a
    assert reg.use(b) == (a, b)
    assert reg.current() == b and reg.history() == [a]
    assert reg.load() == {"tag": 2}
    with pytest.raises(UserError):
        reg.use("20990101-000000-nope")
