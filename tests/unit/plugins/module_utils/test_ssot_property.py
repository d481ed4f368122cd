"""Property: any document either loads or gives a clean SSOTError, never anything else."""

from __future__ import annotations

import json

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.ssot.governance.plugins.module_utils import _ssot

SECTIONS = ["schema_version", "metadata", "artifacts", "target", "postgres", "checks", "exposure", "sources",
            "snapshot", "hitl", "references", "name", "ports", "host", "env", "settings", "id", "expect"]

scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=False),
                    st.text(max_size=20), st.sampled_from(["10", "9.4", ">=9.4,<11", "127.0.0.1", "replica"]))
keys = st.one_of(st.sampled_from(SECTIONS), st.text(max_size=12))
documents = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(keys, children, max_size=5)), max_leaves=30)


def check(tmp_path, text_or_bytes):
    p = tmp_path / "ssot.yml"
    if isinstance(text_or_bytes, bytes):
        p.write_bytes(text_or_bytes)
    else:
        p.write_text(text_or_bytes, encoding="utf-8")
    try:
        out = _ssot.load_valid(str(p))
    except _ssot.SSOTError as exc:
        assert exc.problems
        for lang in ("pt-BR", "en"):
            assert exc.render(lang).strip()
        return None
    assert out["digest"].startswith("sha256:")
    json.dumps(out["ssot"])
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(doc=documents)
def test_random_documents_load_or_fail_cleanly(tmp_path, doc):
    check(tmp_path, yaml.safe_dump(doc, allow_unicode=True))
    check(tmp_path, json.dumps(doc))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(raw=st.binary(max_size=300))
def test_random_bytes_load_or_fail_cleanly(tmp_path, raw):
    check(tmp_path, raw)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(alphabet=st.sampled_from(list("ab:{}[]-&*!#|>'\"\n\t ,.%@`?")), max_size=80))
def test_yaml_punctuation_soup_loads_or_fails_cleanly(tmp_path, text):
    check(tmp_path, text)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(major=st.one_of(scalars, st.text(max_size=10)), port=st.one_of(st.integers(), st.text(max_size=5)))
def test_near_valid_documents_load_or_fail_cleanly(tmp_path, major, port):
    doc = {"schema_version": 1, "metadata": {"name": "x"},
           "target": {"container": "c", "image": "i", "ports": [{"host": port}]}, "postgres": {"major": major}}
    check(tmp_path, yaml.safe_dump(doc))
