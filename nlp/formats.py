"""The file formats the package reads and writes, by suffix."""

from __future__ import annotations

import datetime as _dt
from pathlib import Path

from nlp.errors import UserError

FORMATS = {".csv": "csv", ".tsv": "tsv", ".xlsx": "xlsx", ".xlsm": "xlsx", ".jsonl": "jsonl",
           ".ndjson": "jsonl", ".parquet": "parquet", ".pq": "parquet", ".txt": "document", ".docx": "document"}
WRITABLE = ("csv", "tsv", "xlsx", "jsonl", "parquet")  # a .txt or .docx is read as one document, never written


def file_format(path: str | Path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix in (".xls", ".et", ".wps", ".doc"):
        raise UserError(f"不支持旧格式“{suffix}”：请在 Excel/WPS 中打开后“另存为” .xlsx（文档另存为 .docx）再试。")
    if suffix not in FORMATS:
        raise UserError(f"不支持的文件类型“{suffix or '无后缀'}”：请使用 .csv、.xlsx、.jsonl、.parquet，或通报文档 .txt、.docx")
    return FORMATS[suffix]


class NonText:
    """A cell that held a number, date or other non-text value."""

    def __init__(self, value):
        self.value = value

    def __str__(self) -> str:
        if isinstance(self.value, (_dt.date, _dt.datetime)):
            return self.value.isoformat()
        return str(self.value)
