import re

import pytest

from conftest import SHARED
from nlp import load_taxonomy
from nlp.errors import UserError


def shared_codes() -> dict[str, set[str]]:
    text = (SHARED / "taxonomy.md").read_text(encoding="utf-8")
    sections = re.split(r"^## ", text, flags=re.M)
    found = {}
    names = {"1.": ("质量", "低质原因"), "2.": ("维度",), "3.": ("作为类型",), "4.": ("东丽类别",), "5.": ("盐山类别",)}
    for sec in sections:
        key = sec[:2]
        if key not in names:
            continue
        codes = re.findall(r"^\| ([^|\s]+) \|", sec, flags=re.M)
        codes = [c for c in codes if c not in ("code",) and not set(c) <= set("-")]
        if key == "1.":
            found["质量"] = {c for c in codes if c in ("合格", "低质")}
            found["低质原因"] = {c for c in codes if c not in ("合格", "低质")}
        else:
            found[names[key][0]] = set(codes)
    return found


@pytest.mark.skipif(not (SHARED / "taxonomy.md").exists(), reason="shared/taxonomy.md not present")
def test_codes_match_shared_taxonomy():
    tax = load_taxonomy()
    expected = shared_codes()
    assert set(expected) == {"质量", "低质原因", "维度", "作为类型", "东丽类别", "盐山类别"}
    for sid, codes in expected.items():
        assert set(tax[sid].code_list) == codes, sid
    assert set(tax.ids) == set(expected)  # no extra scheme in the bundled file


def test_user_scheme_is_data(tmp_path):
    base = (load_taxonomy.__globals__["default_path"]()).read_text(encoding="utf-8")
    extra = base + '\n[[schemes]]\nid = "本单位类别"\nkind = "single"\napplies_to = "合格"\n' \
                   '  [[schemes.codes]]\n  code = "A1"\n  name = "窗口"\n' \
                   '  [[schemes.codes]]\n  code = "A2"\n  name = "执法"\n'
    p = tmp_path / "t.toml"
    p.write_text(extra, encoding="utf-8")
    tax = load_taxonomy(p)
    assert tax["本单位类别"].code_list == ["A1", "A2"]


def test_broken_taxonomy_is_a_clear_error(tmp_path):
    p = tmp_path / "t.toml"
    p.write_text("[[schemes]]\nid = 1\nkind = 'weird'\n", encoding="utf-8")
    with pytest.raises(UserError, match="kind"):
        load_taxonomy(p)
