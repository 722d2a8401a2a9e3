"""The Dask engine: the same Annotator on every partition of an input that may not fit one machine.

    classify.py IN -o OUT --engine dask [--scheduler tcp://host:8786]

IN is a CSV or Parquet file, a directory of them, or a glob. Without ``--scheduler`` a
``LocalCluster`` with one single-threaded worker process per core is started. The verified model
(manifest + bytes) goes to every worker once, as a worker plugin, and each worker checks it
against the manifest (``nlp.registry.load_payload``) before unpickling. OUT is a Parquet dataset
(a directory, readable by ``pandas.read_parquet``) or, when it ends in ``.csv``, a directory of CSV
parts; it is written in a temporary directory beside OUT and renamed into place only when every
partition has succeeded. A failed partition is reported by name and leaves no output.
"""

from __future__ import annotations

import glob
import os
import shutil
import time
from pathlib import Path

import pandas as pd
from distributed.diagnostics.plugin import WorkerPlugin

from nlp.errors import UserError

PLUGIN = "jjjc-annotator"
SUB_CHUNK = 2000  # rows annotated at once inside a partition: bounded memory per worker
PARTITION_ROWS = 50_000  # rows of a partition at most when one big Parquet file is the input
_ANNOTATORS: dict[str, object] = {}  # per worker process: version -> Annotator (set by the plugin)


class PartitionError(Exception):
    """A partition failed; the message names it (never its text)."""


def _inputs(source: str) -> tuple[list[str], str]:
    """Files behind IN (a file, a directory or a glob) and their one format."""
    p = Path(source)
    if p.is_dir():
        files = sorted(str(f) for f in p.iterdir() if f.suffix.lower() in (".csv", ".parquet", ".pq"))
    elif p.exists():
        files = [str(p)]
    else:
        files = sorted(glob.glob(source))
    if not files:
        raise UserError(f"找不到输入：{source}（Dask 引擎接受 CSV 或 Parquet 文件、目录或通配符）")
    kinds = {"parquet" if f.lower().endswith((".parquet", ".pq")) else "csv" if f.lower().endswith(".csv")
             else "other" for f in files}
    if kinds - {"csv", "parquet"} or len(kinds) != 1:
        raise UserError("Dask 引擎只接受同一种格式的 CSV 或 Parquet 文件（不能混用，也不接受 XLSX、JSONL）。")
    return files, kinds.pop()


def _read(files: list[str], kind: str, column: str):
    import dask.dataframe as dd

    from nlp.io import detect_encoding

    if kind == "csv":
        enc = detect_encoding(files[0])
        ddf = dd.read_csv(files, dtype=str, keep_default_na=False, encoding=enc,
                          blocksize=None if len(files) > 1 else "32MB")
    else:
        import pyarrow.parquet as pq

        ddf = dd.read_parquet(files).map_partitions(_as_text)
        rows = sum(pq.ParquetFile(f).metadata.num_rows for f in files)
        wanted = -(-rows // PARTITION_ROWS)
        if ddf.npartitions < wanted:  # a big single file: partitions of bounded size, bounded memory
            ddf = ddf.repartition(npartitions=wanted)
    if column is None:
        from nlp.inputs import choose_column

        column, _ = choose_column(ddf.columns, None)
    if column not in ddf.columns:
        raise UserError(f"输入没有“{column}”列。现有列：{'、'.join(map(str, ddf.columns))}。请用 --column 指定。")
    return ddf, column


def _as_text(frame: pd.DataFrame) -> pd.DataFrame:
    frame = frame.copy()
    for c in frame.columns:
        frame[c] = frame[c].astype(object).where(frame[c].notna(), "").astype(str)
    return frame


class ModelPlugin(WorkerPlugin):
    """Worker plugin body: verify and load the model once per worker process."""

    name = PLUGIN

    def __init__(self, manifest: dict, data: bytes, options: dict):
        self.manifest, self.data, self.options = manifest, data, options

    def setup(self, worker=None):
        from nlp.pipeline import Annotator
        from nlp.registry import load_payload

        model = load_payload(self.manifest, self.data)
        _ANNOTATORS[self.manifest["version"]] = Annotator(model, **self.options)

    def teardown(self, worker=None):
        _ANNOTATORS.pop(self.manifest["version"], None)


def _annotate_partition(frame: pd.DataFrame, column: str, version: str, meta: pd.DataFrame, names: list[str],
                        partition_info=None) -> pd.DataFrame:
    number = (partition_info or {}).get("number", 0)
    where = names[number] if number < len(names) else f"第 {number + 1} 块"
    try:
        annotator = _ANNOTATORS[version]
        frame = frame.reset_index(drop=True)
        parts = [annotator.annotate(frame.iloc[i:i + SUB_CHUNK], column) for i in range(0, len(frame), SUB_CHUNK)]
        out = pd.concat(parts, ignore_index=True) if parts else meta.iloc[:0]
        return out.reindex(columns=meta.columns).astype(meta.dtypes.to_dict())
    except Exception as e:  # the message names the partition and the error type, never the text
        raise PartitionError(f"分区 {where} 处理失败（{type(e).__name__}）") from None


def _meta(annotator, ddf, column: str) -> pd.DataFrame:
    sample = pd.DataFrame({c: ["示例"] for c in ddf.columns})
    sample[column] = "某县民政局2023年3月起对低保申请不予答复。"
    out = annotator.annotate(sample, column)
    dtypes = {c: ("int64" if out[c].dtype.kind in "iu" else "float64" if out[c].dtype.kind == "f" else object)
              for c in out.columns}
    return out.iloc[:0].astype(dtypes)


def _client(scheduler: str | None, workers: int):
    from distributed import Client, LocalCluster

    if scheduler:
        try:
            return Client(scheduler, timeout="20s")
        except OSError:
            raise UserError(f"无法连接 Dask 调度器 {scheduler}：请确认地址、端口和防火墙。") from None
    # the diagnostics dashboard only on loopback (a random free port): never on the network
    cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0",
                           silence_logs=40)
    return Client(cluster)


def _place(tmp: Path, target: Path) -> None:
    """Rename the finished dataset into place; an earlier output at OUT is replaced."""
    old = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        os.rename(target, old)
    os.rename(tmp, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink()


def run(annotator, payload: tuple[dict, bytes], source: str, target: Path, column: str,
        scheduler: str | None = None, workers: int = 2, say=print) -> dict:
    """Annotate IN into OUT on Dask. Returns counts for the closing summary."""
    from distributed import progress

    from nlp.io import defuse_csv

    started = time.time()
    files, kind = _inputs(source)
    ddf, column = _read(files, kind, column)
    meta = _meta(annotator, ddf, column)
    names = [Path(f).name for f in files] if len(files) > 1 else []
    manifest, data = payload
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    client = _client(scheduler, workers)
    try:
        options = {"split_cases": annotator.split_cases, "min_split_length": annotator.min_split_length,
                   "names": annotator.names}
        client.register_plugin(ModelPlugin(manifest, data, options), name=PLUGIN)
        out = ddf.map_partitions(_annotate_partition, column, manifest["version"], meta, names, meta=meta)
        if target.suffix.lower() == ".csv":
            tmp.mkdir()
            out = out.map_partitions(defuse_csv, meta=meta)
            job = out.to_csv(str(tmp / "part-*.csv"), index=False, compute=False, encoding="utf-8-sig")
        else:
            from nlp.parquet import arrow_schema

            job = out.to_parquet(str(tmp), write_index=False, compute=False, compression="zstd",
                                 schema=arrow_schema(meta))
        futures = client.compute(job)
        if os.isatty(2):
            progress(futures)
        try:
            client.gather(futures)
        except PartitionError as e:
            raise UserError(f"{e}。没有写出任何结果。") from None
        _place(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
        client.close()
    return {"files": len(files), "partitions": ddf.npartitions, "seconds": time.time() - started}
