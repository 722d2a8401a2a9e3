"""Hostile and broken input files for the fuzz harness (bench/fuzz.py) and the tests.

Each maker writes one file into a folder and returns (path, extra CLI arguments). ``big`` makes
the full-size attack (a 50 MB cell, a 300 MB zip bomb); the default is small but of the same
shape, for the test suite (which lowers the caps in nlp/data/limits.toml through JJJC_LIMITS).
"""

from __future__ import annotations

import json
import random
import zipfile
from pathlib import Path

CLUE = "某县民政局2023年3月起对低保申请长期不予答复，造成群众多次白跑。"
BULLETIN = ("近日，区纪委监委通报3起典型问题：（一）某街道办事处副主任张某某对群众反映的违建问题推诿扯皮，"
            "受到党内警告处分。（二）某局科长李某某在项目审批中故意拖延，被诫勉谈话。"
            "（三）某社区书记王某某对低保申请长期不予答复，受到通报批评。")
FOREIGN = {
    "shift_jis": "日本国民は、正当に選挙された国会における代表者を通じて行動し、われらとわれらの子孫のために",
    "euc_kr": "대한민국 헌법 제1조 대한민국은 민주공화국이다. 모든 권력은 국민으로부터 나온다",
    "latin-1": "Le café est très bon à Paris, où l'été est chaud et sec. Garçon, élève, déjà",
    "cp437": "Le café est très bon à Paris, où l'été est chaud et sec. Garçon, élève, déjà",
    "koi8-r": "Москва столица России, здесь живут миллионы людей и работают",
    "hz": CLUE, "iso2022_jp": "日本国民は、正当に選挙された国会における代表者", "utf-7": CLUE,
}

_CT = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
       '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
       '<Default Extension="xml" ContentType="application/xml"/>'
       '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
       '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
       '</Types>')
_RELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
         '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
         '</Relationships>')
_WB = ('<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
       'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets>'
       '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>')
_WBRELS = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
           '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
           '</Relationships>')


def _inline(ref: str, text: str) -> str:
    return f'<c r="{ref}" t="inlineStr"><is><t>{text}</t></is></c>'


def raw_xlsx(path: Path, rows_xml, dimension: str | None = None) -> Path:
    """A minimal workbook whose sheet XML is streamed from ``rows_xml`` (strings)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", _CT)
        zf.writestr("_rels/.rels", _RELS)
        zf.writestr("xl/workbook.xml", _WB)
        zf.writestr("xl/_rels/workbook.xml.rels", _WBRELS)
        with zf.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as fh:
            fh.write(b'<?xml version="1.0" encoding="UTF-8"?><worksheet '
                     b'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">')
            if dimension:
                fh.write(f'<dimension ref="{dimension}"/>'.encode())
            fh.write(b"<sheetData>")
            fh.write(f'<row r="1">{_inline("A1", "id")}{_inline("B1", "text")}</row>'.encode())
            for part in rows_xml:
                fh.write(part.encode("utf-8"))
            fh.write(b"</sheetData></worksheet>")
    return path


# ------------------------------------------------------------------ makers
def zip_bomb(d: Path, big=False, **_):
    n = (300 << 20) if big else (4 << 20)

    def rows():
        yield f'<row r="2">{_inline("A2", "1")}<c r="B2" t="inlineStr"><is><t>'
        block = "A" * (1 << 20)
        for _ in range(n >> 20):
            yield block
        yield "</t></is></c></row>"
    return raw_xlsx(d / "bomb.xlsx", rows()), []


def huge_dimension(d: Path, **_):
    return raw_xlsx(d / "dimension.xlsx", [f'<row r="2">{_inline("A2", "1")}{_inline("B2", CLUE)}</row>'],
                    dimension="A1:XFD1048576"), []


def empty_rows(d: Path, **_):
    rows = [f'<row r="2">{_inline("A2", "1")}{_inline("B2", CLUE)}</row>',
            f'<row r="60000000">{_inline("A60000000", "2")}</row>']
    return raw_xlsx(d / "empty_rows.xlsx", rows), []


def formula_no_value(d: Path, **_):
    rows = [f'<row r="2">{_inline("A2", "1")}{_inline("B2", CLUE)}</row>',
            f'<row r="3">{_inline("A3", "2")}<c r="B3" t="str"><f>B2&amp;"。"</f></c></row>']
    return raw_xlsx(d / "formula.xlsx", rows), []


def truncated_xlsx(d: Path, rng: random.Random, **_):
    src = formula_no_value(d)[0].read_bytes()
    p = d / "truncated.xlsx"
    p.write_bytes(src[: rng.randrange(10, len(src) - 10)])
    return p, []


def long_digits(d: Path, **_):
    p = d / "digits.csv"
    p.write_text("id,text\n1," + "1" * 50_000 + "\n", encoding="utf-8")
    return p, []


def big_cell(d: Path, big=False, **_):
    p = d / "big_cell.csv"
    with p.open("w", encoding="utf-8") as fh:
        fh.write("id,text\n1,")
        for _ in range(50 if big else 1):
            fh.write(("线索" * (1 << 18)) if big else "线索" * 300_000)
        fh.write("\n")
    return p, []


def many_columns(d: Path, big=False, **_):
    n = 100_000 if big else 20_000
    p = d / "columns.csv"
    p.write_text(",".join(["text"] + [f"c{i}" for i in range(n)]) + "\n" + CLUE + "," * n + "\n", encoding="utf-8")
    return p, []


def header_only(d: Path, rng: random.Random, **_):
    p = d / "header.csv"
    p.write_text("id,text" + rng.choice(["", "\n", "\r\n"]), encoding="utf-8")
    return p, []


def no_header(d: Path, **_):
    p = d / "no_header.csv"
    p.write_text(f"{CLUE},另一列\n{CLUE},x\n", encoding="utf-8")
    return p, []


def foreign_encoding(d: Path, rng: random.Random, **_):
    enc = rng.choice(sorted(FOREIGN))
    p = d / f"enc_{enc}.csv"
    p.write_bytes(f"id,text\n1,{FOREIGN[enc]}\n2,{FOREIGN[enc]}\n".encode(enc))
    return p, []


def bad_bytes(d: Path, rng: random.Random, **_):
    p = d / "bad_bytes.csv"
    raw = f"id,text\n1,{CLUE}\n2,{CLUE}\n".encode("gbk")
    cut = rng.randrange(8, len(raw) - 2)
    p.write_bytes(raw[:cut] + b"\xff\x80" + raw[cut:])
    return p, rng.choice([[], ["--encoding-errors", "replace"]])


def quality_column(d: Path, **_):
    p = d / "has_quality.csv"
    p.write_text(f"id,text,质量,依据\n1,{CLUE},合格,x\n", encoding="utf-8")
    return p, []


def jsonl_hostile(d: Path, rng: random.Random, **_):
    p = d / "hostile.jsonl"
    line = rng.choice([
        '{"text": "x", "n": ' + "9" * 5000 + "}",
        "[" * 100_000 + "]" * 100_000,
        json.dumps({"text": CLUE + "\udc80\ud800"}),
        "[1, 2]", "{not json", json.dumps({"text": 5}), json.dumps({"text": None}),
    ])
    p.write_text(line + "\n", encoding="utf-8", errors="surrogatepass")
    return p, []


def random_bytes(d: Path, rng: random.Random, **_):
    p = d / f"random{rng.choice(['.csv', '.xlsx', '.jsonl', '.txt', '.docx', '.tsv'])}"
    p.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 4000))))
    return p, []


def random_text(d: Path, rng: random.Random, **_):
    p = d / f"text{rng.choice(['.csv', '.jsonl', '.tsv', '.txt'])}"
    alphabet = ',"\n\r\t;{}[]:\\' + CLUE + "0123456789=+-@（一）"
    p.write_text("id,text\n" + "".join(rng.choice(alphabet) for _ in range(rng.randrange(1, 3000))), encoding="utf-8")
    return p, []


def bulletin_documents(d: Path, rng: random.Random, **_):
    if rng.random() < 0.5:
        p = d / "通报.txt"
        p.write_text(BULLETIN, encoding=rng.choice(["utf-8", "gb18030"]))
        return p, []
    import docx

    doc = docx.Document()
    for part in BULLETIN.split("。"):
        doc.add_paragraph(part + "。")
    p = d / "通报.docx"
    doc.save(p)
    return p, []


def old_formats(d: Path, rng: random.Random, **_):
    p = d / f"old{rng.choice(['.xls', '.doc', '.et'])}"
    p.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500))
    return p, []


MAKERS = [zip_bomb, huge_dimension, empty_rows, formula_no_value, truncated_xlsx, long_digits, big_cell,
          many_columns, header_only, no_header, foreign_encoding, bad_bytes, quality_column, jsonl_hostile,
          random_bytes, random_text, bulletin_documents, old_formats]
