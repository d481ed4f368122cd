"""The canonical schemas: valid JSON Schema, their generated copies current, examples valid."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource

ROOT = Path(__file__).resolve().parents[2]
SCHEMA_DIR = ROOT / "schemas"


def schema(name):
    return json.loads((SCHEMA_DIR / f"{name}.schema.json").read_text())


def registry():
    resources = [(s["$id"], Resource.from_contents(s)) for s in map(schema, ("ssot", "runbook", "project-panel"))]
    return Registry().with_resources(resources)


@pytest.mark.parametrize("name", ["ssot", "runbook", "project-panel", "approvals", "result"])
def test_schema_is_valid_2020_12(name):
    jsonschema.Draft202012Validator.check_schema(schema(name))


def test_generated_copies_are_current():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts" / "generate.py"), "--check"], text=True,
                          capture_output=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_generated_copy_equals_canonical():
    from ansible_collections.ssot.governance.plugins.module_utils import _messages, _schemas
    for name in ("ssot", "runbook", "project-panel"):
        assert _schemas.SCHEMAS[name] == schema(name)
    for lang in ("pt-BR", "en"):
        assert _messages.MESSAGES[lang] == yaml.safe_load((ROOT / "messages" / f"{lang}.yml").read_text())


def test_message_placeholders_agree_across_languages():
    pt = yaml.safe_load((ROOT / "messages" / "pt-BR.yml").read_text())
    en = yaml.safe_load((ROOT / "messages" / "en.yml").read_text())
    for key in pt:
        assert set(re.findall(r"\{(\w+)\}", pt[key])) == set(re.findall(r"\{(\w+)\}", en[key])), key


def test_every_fix_hint_in_the_schema_has_a_message():
    pt = yaml.safe_load((ROOT / "messages" / "pt-BR.yml").read_text())
    hints = set(re.findall(r'"x-fix": "([^"]+)"', (SCHEMA_DIR / "ssot.schema.json").read_text()))
    assert hints and all(f"ssot.fix.{h}" in pt for h in hints)


def test_docs_reference_lists_every_top_level_field():
    text = (ROOT / "docs" / "ssot.md").read_text()
    for field in schema("ssot")["properties"]:
        assert f"| `{field}` |" in text


RUNBOOK = {
    "schema_version": 1, "generated_at": "2026-11-24T00:00:00Z", "workspace": "/ws",
    "ssot": {"path": "/ws/ssot.yml", "digest": "sha256:" + "a" * 64, "map": {"metadata": {"name": "x"}},
             "full_map": [{"id": "preamble", "heading": "preamble", "level": 0, "lines": [1, 2],
                           "digest": "sha256:" + "b" * 64}]},
    "constraints": [{"id": "hitl.auth", "text": "auth changes need approval", "source": "hitl"}],
    "decisions": [{"id": "dev-artifact-format-legacy-image", "title": "OCI tar delivered, docker-archive expected",
                   "context": "...", "options": [{"id": "A", "label": "use delivered"}, {"id": "B", "label": "rebuild"}],
                   "risk": "low", "rollback": "none", "ssot_digest": "sha256:" + "a" * 64, "status": "pending",
                   "raised_at": "2026-11-24T00:00:01Z", "run_id": "r1", "phase": 1}],
    "steps": [{"id": "r1:1", "name": "Load the SSOT", "play": "p", "role": "ssot", "phase": 0, "status": "done",
               "run_id": "r1", "hosts": {"localhost": "ok"}},
              {"id": "r1:2", "name": "Run", "status": "pending"}],
    "checkpoints": [{"id": "c1", "run_id": "r1", "at": "2026-11-24T00:00:02Z",
                     "artifacts": [{"path": "evidence/r1/x.log", "sha256": "c" * 64}], "next_steps": ["approve A"]}],
    "runs": [{"id": "r1", "started_at": "2026-11-24T00:00:00Z", "status": "running"}],
    "journal": {"path": "journal.jsonl", "last_seq": 3, "last_hash": "d" * 64},
}

PANEL = {
    "schema_version": 1, "generated_at": "2026-11-24T00:00:00Z",
    "project": {"name": "legacy-pg-demo", "owner": "dba", "language": "pt-BR"},
    "ssot": {"path": "/ws/ssot.yml", "digest": "sha256:" + "a" * 64},
    "milestones": [{"id": "m1", "phase": 1, "title": "Inventário", "status": "blocked",
                    "decisions_pending": ["dev-artifact-format-legacy-image"]}],
    "decisions_pending": [{"id": "dev-artifact-format-legacy-image", "title": "...", "how_to_approve": "approvals.yml"}],
    "deviations": [{"id": "setting.wal_level", "severity": "medium", "expected": "logical", "actual": "replica"}],
    "evidences": [{"title": "validate", "path": "evidence/r1/x.log", "sha256": "c" * 64}],
    "references": [{"url": "https://www.postgresql.org/docs/10/"}],
    "ssot_full_map": RUNBOOK["ssot"]["full_map"],
}


@pytest.mark.parametrize("name, doc", [("runbook", RUNBOOK), ("project-panel", PANEL)])
def test_view_examples_validate_and_bad_ones_do_not(name, doc):
    validator = jsonschema.Draft202012Validator(schema(name), registry=registry())
    validator.validate(doc)
    bad = json.loads(json.dumps(doc))
    if name == "runbook":
        bad["steps"][0]["status"] = "almost"
    else:
        bad["milestones"][0]["status"] = "maybe"
    assert list(validator.iter_errors(bad))
