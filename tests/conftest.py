"""Shared fixtures. Every test uses its own models folder and signing key (never the user's)."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared"
sys.path.insert(0, str(ROOT))

from nlp.cli import classify_app, train_app  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def isolated_key(tmp_path_factory):
    key_dir = tmp_path_factory.mktemp("key")
    os.environ["JJJC_KEY_FILE"] = str(key_dir / "signing.key")
    yield


@pytest.fixture(scope="session")
def runner():
    return CliRunner()


def run_train(runner, *args):
    return runner.invoke(train_app, [str(a) for a in args])


def run_classify(runner, *args):
    return runner.invoke(classify_app, [str(a) for a in args])


@pytest.fixture(scope="session")
def corpus_df():
    return pd.read_csv(ROOT / "corpora" / "clues.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="session")
def small_corpus(tmp_path_factory, corpus_df):
    """A stratified ~900-row slice of the shipped corpus (fast training for loop tests)."""
    parts = []
    for _, g in corpus_df.groupby(["质量", "split"]):
        parts.append(g.sample(frac=0.3, random_state=7))
    df = pd.concat(parts).sort_index()
    path = tmp_path_factory.mktemp("small") / "clues.csv"
    df.to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def trained(tmp_path_factory, runner):
    """The default model trained once from the shipped corpus into a private models folder."""
    models = tmp_path_factory.mktemp("models")
    result = run_train(runner, "--models", models)
    assert result.exit_code == 0, result.output
    return models


@pytest.fixture()
def fresh_models(tmp_path, trained):
    """A private copy of the trained models folder a test may change."""
    dst = tmp_path / "models"
    shutil.copytree(trained, dst)
    return dst
