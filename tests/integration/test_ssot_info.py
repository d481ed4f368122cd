"""ssot_info as the playbooks use it: clean, located, translated errors; prose map."""

from __future__ import annotations

import json
import os
import subprocess

import pytest
import yaml
from _support import ROOT, VENV_BIN, explain, run_playbook

pytestmark = pytest.mark.integration

CANARY = "canary-Literal-Pa55word"


def ad_hoc(args: list[str]) -> subprocess.CompletedProcess:
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_LOAD_CALLBACK_PLUGINS="1", ANSIBLE_STDOUT_CALLBACK="ansible.builtin.json")
    return subprocess.run([str(VENV_BIN / "ansible"), "localhost", "-m", "ssot.governance.ssot_info", *args],
                          text=True, capture_output=True, env=env, check=False)


def bad_workspace(tmp_path, language=None):
    doc = yaml.safe_load((ROOT / "examples" / "legacy-pg" / "ssot.yml").read_text())
    doc["artifacts"][0]["sha256"] = "0" * 64
    doc["target"]["env"]["POSTGRES_PASSWORD"] = CANARY
    doc["postgres"]["major"] = "ten"
    if language:
        doc["metadata"]["language"] = language
    (tmp_path / "ssot.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    (tmp_path / "ansible.cfg").write_text((ROOT / "examples" / "legacy-pg" / "ansible.cfg").read_text())
    return tmp_path


@pytest.mark.parametrize("language, words", [
    (None, ["SSOT inválido (2 problema(s))", "valor literal onde se exige uma referência de segredo",
            "em $.postgres.major: versão ou faixa inválida 'ten'", "Como corrigir"]),
    ("en", ["Invalid SSOT (2 problem(s))", "a literal value where a secret reference is required",
            "at $.postgres.major: invalid version or range 'ten'", "How to fix"]),
])
def test_playbook_stops_on_an_invalid_ssot_with_a_clean_message(tmp_path, language, words):
    ws = bad_workspace(tmp_path, language)
    proc = run_playbook("ssot.governance.validate", ws, extra_args=["-vvv"])
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    for w in words:
        assert w in out, explain(proc)
    assert "Traceback" not in out and CANARY not in out
    assert not (ws / "evidence").exists(), "nothing runs after an invalid SSOT"
    runbook = (ws / "runbook.json").read_text()
    assert '"digest": null' in runbook and CANARY not in runbook


def test_ssot_info_returns_digest_normalized_ssot_and_prose_map(tmp_path):
    (tmp_path / "ssot.yml").write_text(
        (ROOT / "examples" / "legacy-pg" / "ssot.yml").read_text().replace("@@DELIVERED_SHA256@@", "1" * 64))
    (tmp_path / "book-run.txt").write_text((ROOT / "examples" / "legacy-pg" / "book-run.txt").read_text())
    proc = ad_hoc(["-a", f"path={tmp_path}/ssot.yml"])
    assert proc.returncode == 0, explain(proc)
    result = json.loads(proc.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]
    assert result["changed"] is False and result["digest"].startswith("sha256:")
    assert result["ssot"]["exposure"]["allowed_binds"] == ["127.0.0.1"]
    headings = [s["heading"] for s in result["ssot_full_map"]]
    assert headings[:2] == ["preamble", "1. Artefato entregue"] and len(headings) == 5
    assert result["prose"] == f"{tmp_path}/book-run.txt"
    # Read only: a path given alone is not the SSOT in force of an environment (no ssot_loaded record).
    assert "ssot_loaded" not in result and "require_signatures" not in result["ssot"]["hitl"]
    checked = ad_hoc(["-a", f"path={tmp_path}/ssot.yml prose=", "--check"])
    assert json.loads(checked.stdout)["plays"][0]["tasks"][0]["hosts"]["localhost"]["ssot_full_map"] == []
