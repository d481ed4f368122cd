"""Modules that only return records, run through main(): what they return keeps the contract (the run_module fixture
checks it) and says what the recorder needs."""

from __future__ import annotations

import json

from ansible_collections.ssot.governance.plugins.module_utils import _snapshot
from ansible_collections.ssot.governance.plugins.modules import snapshot_verify


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
            "base_dir": str(tmp_path), "ssot_digest": "sha256:" + "1" * 64, "language": "en"}
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


def test_decision_modules_never_take_approvals_and_raise_every_decision_pending(run_module, tmp_path):
    """Approvals and signers never reach a target host: the module has no option for them, and what it raises is
    pending, with its facts, for the controller to settle."""
    from ansible_collections.ssot.governance.plugins.modules import artifact_info
    failed, out = run_module(artifact_info, dict(_artifact_args(tmp_path), hitl={"file_approvals": []}))
    assert failed and "hitl" in out["msg"]
    failed, out = run_module(artifact_info, _artifact_args(tmp_path))
    assert not failed and out["decisions"]
    assert all(d["status"] == "pending" and "answer" not in d and d["facts"] for d in out["decisions"])
    assert out["artifacts"][0]["path_choice"] == "blocked"
