from __future__ import annotations

import pytest

from ansible_collections.ssot.governance.plugins.module_utils import _ssot


def write(tmp_path, text, name="ssot.yml", mode="w"):
    p = tmp_path / name
    if mode == "wb":
        p.write_bytes(text)
    else:
        p.write_text(text, encoding="utf-8")
    return str(p)


def test_load_yaml_and_json_give_the_same_digest(tmp_path):
    a = _ssot.load(write(tmp_path, "target:\n  container: c\n  image: i\n# comment\npostgres: {major: '10'}\n"))
    b = _ssot.load(write(tmp_path, '{"postgres": {"major": "10"}, "target": {"image": "i", "container": "c"}}',
                         name="ssot.json"))
    assert a == b
    assert _ssot.digest(a) == _ssot.digest(b)
    assert _ssot.digest(a).startswith("sha256:") and len(_ssot.digest(a)) == 71


def test_digest_changes_with_any_value():
    assert _ssot.digest({"a": {"b": 1}}) != _ssot.digest({"a": {"b": 2}})
    assert _ssot.digest({"a": "1"}) != _ssot.digest({"a": 1})


@pytest.mark.parametrize("content, mode, expected", [
    ("", "w", "file is empty"),
    ("   \n\n", "w", "file is empty"),
    (b"\x00\x01binary", "wb", "binary content"),
    (b"caf\xe9: 1\n", "wb", "not UTF-8"),
    ("- a\n- b\n", "w", "top level must be a mapping"),
    ("a: [1, 2\n", "w", "YAML syntax error"),
])
def test_bad_files_give_clean_errors(tmp_path, content, mode, expected):
    with pytest.raises(_ssot.SSOTError) as err:
        _ssot.load(write(tmp_path, content, mode=mode))
    assert expected in str(err.value)
    assert str(tmp_path) in str(err.value)


def test_yaml_error_names_the_line(tmp_path):
    with pytest.raises(_ssot.SSOTError) as err:
        _ssot.load(write(tmp_path, "a: 1\nb: 2\nc: [\n"))
    assert err.value.line is not None and err.value.line >= 3


def test_duplicate_key_is_refused_with_both_lines(tmp_path):
    with pytest.raises(_ssot.SSOTError) as err:
        _ssot.load(write(tmp_path, "target:\n  container: a\n  container: b\n"))
    assert "duplicate key 'container' (first at line 2)" in str(err.value)
    assert err.value.line == 3


def test_missing_file(tmp_path):
    with pytest.raises(_ssot.SSOTError, match="file not found"):
        _ssot.load(str(tmp_path / "nope.yml"))


def test_minimum_fields_named_when_missing():
    with pytest.raises(_ssot.SSOTError, match="missing required field 'target.image'"):
        _ssot.check_minimum({"target": {"container": "c", "ports": []}, "postgres": {"major": "10"}})
    with pytest.raises(_ssot.SSOTError, match=r"target.ports\[0\] needs 'host'"):
        _ssot.check_minimum({"target": {"container": "c", "image": "i", "ports": [{"bind": "127.0.0.1"}]},
                             "postgres": {"major": "10"}})
    with pytest.raises(_ssot.SSOTError, match="field 'target.ports' must be list, got str"):
        _ssot.check_minimum({"target": {"container": "c", "image": "i", "ports": "5432"}, "postgres": {"major": 10}})
