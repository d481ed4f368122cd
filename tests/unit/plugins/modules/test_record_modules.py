"""Modules that only return records, run through main(): what they return keeps the contract (the run_module fixture
checks it) and says what the recorder needs."""

from __future__ import annotations

import datetime
import json
import os

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


def _artifact_args(tmp_path, **extra):
    (tmp_path / "image.tar").write_bytes(b"not a tar")
    args = {"artifacts": [{"id": "img", "path": "image.tar", "format": "docker-archive", "sha256": "0" * 64}],
            "base_dir": str(tmp_path), "ssot_digest": "sha256:" + "1" * 64, "language": "en",
            "hitl": {"file_approvals": [], "approvals_file": "/nowhere/on/this/host/approvals.yml"}}
    args.update(extra)
    return args


def test_artifact_info_of_a_second_location_blocks_on_the_other_calls_pending_decisions(run_module, tmp_path):
    from ansible_collections.ssot.governance.plugins.modules import artifact_info
    failed, out = run_module(artifact_info, _artifact_args(tmp_path))
    assert not failed and out["pending"] and out["milestone"]["status"] == "blocked"
    # The first of two inspections says nothing about the phase; the second counts the first one's pending.
    failed, out = run_module(artifact_info, _artifact_args(tmp_path, milestone=False))
    assert not failed and "milestone" not in out and out["evidence"]
    clean = _artifact_args(tmp_path, artifacts=[])
    failed, out = run_module(artifact_info, dict(clean, pending_elsewhere=["artifact.other.sha256"]))
    assert not failed and out["milestone"]["status"] == "blocked"
    failed, out = run_module(artifact_info, clean)
    assert not failed and out["milestone"]["status"] == "clear"


def test_decision_modules_take_the_approvals_read_on_the_controller_not_a_file_of_this_host(run_module, tmp_path):
    """A target reached over SSH has no workspace: the entries come as a parameter (the ssot_info action read and
    checked them), and a reading error there fails the module with its message."""
    from ansible_collections.ssot.governance.plugins.modules import artifact_info
    args = _artifact_args(tmp_path)
    failed, out = run_module(artifact_info, args)
    decision = out["decisions"][0]
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    approved = {"decision": decision["id"], "option": decision["options"][0]["id"], "approved_by": "Ana Souza (DBA)",
                "approved_at": now, "reason": "r", "ssot_digest": args["ssot_digest"],
                "source": "approvals.yml #1"}
    args["hitl"] = dict(args["hitl"], file_approvals=[approved])
    failed, out = run_module(artifact_info, args)
    assert not failed and out["decisions"][0]["status"] == "approved", out["decisions"][0]
    args["hitl"] = dict(args["hitl"], file_approvals_error="approvals.yml line 3: not YAML")
    failed, out = run_module(artifact_info, args)
    assert failed and out["msg"] == "approvals.yml line 3: not YAML"


def test_the_signers_copy_on_a_target_is_written_only_for_a_signature_and_removed_at_exit(tmp_path, monkeypatch):
    import atexit
    from ansible_collections.ssot.governance.plugins.module_utils import _decisions
    registered = []
    monkeypatch.setattr(atexit, "register", lambda fn, *args: registered.append((fn, args)))
    given = {"language": "en", "ssot_digest": "sha256:" + "1" * 64,
             "hitl": {"allowed_signers": str(tmp_path / "not-on-this-host" / "allowed_signers"),
                      "allowed_signers_text": "ana ssh-ed25519 AAAA\n", "file_approvals": []}}
    policy = _decisions.Policy(given)
    assert registered == []                       # nothing written until a signature is checked
    copy = policy.allowed_signers
    assert open(copy).read() == "ana ssh-ed25519 AAAA\n" and policy.allowed_signers == copy
    assert len(registered) == 1
    fn, args = registered[0]
    fn(*args)
    assert not os.path.exists(copy)
    here = tmp_path / "allowed_signers"
    here.write_text("x")
    assert _decisions.Policy(dict(given, hitl=dict(given["hitl"], allowed_signers=str(here)))).allowed_signers == \
        str(here)
