"""Secrets that used to leak: every value the SSOT references, declared secret extra vars, DSN passwords in any
field, values that are not strings, no_log literals - none reaches a file of the workspace, in any encoding."""

from __future__ import annotations

import base64
import json
import urllib.parse
from pathlib import Path

import pytest

from ansible_collections.ssot.governance.plugins.module_utils import _chain, _ssot
from ansible_collections.ssot.governance.plugins.plugin_utils._recorder import Recorder
from ansible_collections.ssot.governance.plugins.plugin_utils._redact import Redactor

CANARIES = {
    "env_plain_name": "Canary-env-7f3a",          # in an env var named DB_BLOB, referenced by the SSOT
    "var_plain_name": "Canary-var-91c2",          # an extra var named conn_blob, referenced by the SSOT
    "declared": "Canary-declared-5e1d",           # an extra var declared in secret_vars
    "dsn": "Canary@dsn-44b0",                     # a DSN password holding an @, in a field named note
    "quoted": 'Can"ary-qu\\ote-2b9c',             # JSON escapes it
    "accented": "Canário-sênha-6d7e",             # ensure_ascii escapes it
    "no_log": "Canary-nolog-0a8f",                # a literal of a no_log task
    "object": "Canary-obj-3c5d",                  # a known secret (env SSOT_PG_PASSWORD) inside an exception object
}


def encodings(secret):
    yield secret
    yield json.dumps(secret)[1:-1]
    yield json.dumps(secret, ensure_ascii=False)[1:-1]
    yield urllib.parse.quote(secret)
    yield base64.b64encode(secret.encode()).decode()


def assert_no_canary(ws: Path):
    found = []
    for path in ws.rglob("*"):
        if path.is_file():
            content = path.read_bytes().decode("utf-8", "replace")
            for name, secret in CANARIES.items():
                for form in encodings(secret):
                    if form in content:
                        found.append((str(path.relative_to(ws)), name, form))
    assert found == []


def test_no_canary_reaches_any_file(tmp_path):
    ws = tmp_path / "ws"
    env = {"DB_BLOB": CANARIES["env_plain_name"], "HOME": "/root", "SSOT_PG_PASSWORD": CANARIES["object"]}
    extra = {"conn_blob": CANARIES["var_plain_name"], "my_token_like": CANARIES["declared"], "ssot_workspace": str(ws)}
    rec = Recorder(str(ws), redactor=Redactor(environ=env, extra_vars=extra, secret_vars=["my_token_like"]))
    rec.open("site.yml", "tester")
    plan = [{"id": "s1", "name": "Load", "role": "ssot.governance.ssot", "phase": 0}]
    rec.start_play("play", plan)
    rec.start_task(plan[0])
    ssot = {"metadata": {"name": "x"},
            "target": {"container": "c", "env": {"BLOB": {"env": "DB_BLOB"}},
                       "connection": {"user": "u", "password": {"var": "conn_blob"}}}}
    rec.ssot_loaded({"path": str(ws / "ssot.yml"), "digest": "sha256:" + "a" * 64, "language": "en", "ssot": ssot,
                     "ssot_full_map": []})
    rec.learn([CANARIES["no_log"]])
    rec.learn([CANARIES["quoted"], CANARIES["accented"]])
    everything = " ".join(CANARIES[k] for k in ("env_plain_name", "var_plain_name", "declared", "no_log",
                                                "quoted", "accented"))
    rec.result({"step": "s1", "host": "h", "status": "failed", "msg": "boom " + everything,
                "result": {"note": "postgresql://app:%s@db:5432/app" % CANARIES["dsn"],
                           "error": ValueError(CANARIES["object"]), "count": 3}})
    rec.result({"step": "s1", "host": "h", "status": "failed", "result": {"error": RuntimeError(CANARIES["object"])}})
    rec.evidence("e.log", "dsn=postgresql://app:%s@db/app %s" % (CANARIES["dsn"], everything), "s1", "h", "t")
    rec.evidence("e.json", {"nested": [{"x": everything}], "n": 1}, "s1", "h", "t")
    rec.close("failed")
    assert_no_canary(ws)
    assert _chain.verify(str(ws))["ok"]


@pytest.mark.parametrize("ref", [{"env": "Canary-typed-in-ref!"}, {"var": "Canary typed"}, {"env": 12345678}])
def test_ssot_info_never_echoes_a_value_typed_inside_a_reference(tmp_path, ref):
    doc = {"schema_version": 1, "metadata": {"name": "x"}, "target": {
        "container": "c", "image": "i:1", "connection": {"user": "u", "password": ref}}}
    path = tmp_path / "ssot.yml"
    path.write_text(json.dumps(doc))
    with pytest.raises(_ssot.SSOTError) as err:
        _ssot.load_valid(str(path))
    for lang in ("pt-BR", "en"):
        assert str(ref.get("env", ref.get("var"))) not in err.value.render(lang)


def test_ssot_info_masks_dsn_passwords_in_its_messages(tmp_path):
    doc = {"schema_version": 1, "metadata": {"name": ["postgresql://u:Canary-dsn-msg@h/db"]}}
    path = tmp_path / "ssot.yml"
    path.write_text(json.dumps(doc))
    with pytest.raises(_ssot.SSOTError) as err:
        _ssot.load_valid(str(path))
    assert "Canary-dsn-msg" not in err.value.render("en")
