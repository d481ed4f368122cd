"""Modules that only return records, run through main(): what they return keeps the contract (the run_module fixture
checks it) and says what the recorder needs."""

from __future__ import annotations

import json

import yaml

from ansible_collections.ssot.governance.plugins.module_utils import _result, _snapshot
from ansible_collections.ssot.governance.plugins.modules import rollback_point, snapshot_verify


def test_rollback_point_returns_its_record_and_the_file_for_people(run_module):
    data = {"container": "pg", "settings": [{"name": "work_mem", "current": "4096", "rollback": "reset"}]}
    failed, out = run_module(rollback_point, {"subject": "settings", "data": data})
    assert not failed and out["changed"] is False
    assert out["rollback"] == {"subject": "settings", "event": "point", "data": data}
    assert out["evidence"] == [{"name": "rollback-settings.json", "content": data}]
    failed, out = run_module(rollback_point, {"subject": "tables", "data": data})
    assert failed and "tables" in out["msg"]
    documented = yaml.safe_load(rollback_point.DOCUMENTATION)["options"]["subject"]["choices"]
    assert tuple(documented) == _result.ROLLBACK_SUBJECTS          # the contract's subjects, documented


def test_snapshot_verify_names_an_altered_file_and_returns_its_verdict(run_module, tmp_path):
    (tmp_path / "pg_dumpall.sql").write_text("-- dump\n")
    size, digest = _snapshot.sha256_file(str(tmp_path / "pg_dumpall.sql"))
    _snapshot.write_manifest(str(tmp_path), [{"name": "pg_dumpall.sql", "size": size, "sha256": digest,
                                              "kind": "dump"}], {}, {})
    failed, out = run_module(snapshot_verify, {"path": str(tmp_path), "language": "en"})
    assert not failed and out["snapshot"] == {"path": str(tmp_path), "status": "verified", "files": 1}
    (tmp_path / "pg_dumpall.sql").write_text("-- edited\n")
    failed, out = run_module(snapshot_verify, {"path": str(tmp_path), "language": "en"})
    assert failed and "pg_dumpall.sql" in out["msg"] and out["snapshot"]["status"] == "failed"
    assert json.loads((tmp_path / "manifest.json").read_text())["files"][0]["sha256"] == digest
