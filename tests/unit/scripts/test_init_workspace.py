from __future__ import annotations

import json
import subprocess

import yaml

from ansible_collections.ssot.governance.plugins.module_utils import _decisions
from ansible_collections.ssot.governance.scripts import init_workspace


def fake_build(tmp_path):
    tar = tmp_path / "cache" / "legacy-pg-10.23.docker.tar"
    tar.parent.mkdir()
    tar.write_bytes(b"not really an image")
    return {"docker_archive": str(tar), "docker_archive_sha256": "ab" * 32}


def test_init_fills_sha_and_delivers(tmp_path, repo_root):
    info = fake_build(tmp_path)
    ws = tmp_path / "ws"
    done = init_workspace.init(ws, repo_root / "examples" / "legacy-pg", info)
    doc = yaml.safe_load((ws / "ssot.yml").read_text())
    assert doc["artifacts"][0]["sha256"] == "ab" * 32
    assert (ws / "delivered" / "legacy-pg-10.23.docker.tar").read_bytes() == b"not really an image"
    assert (ws / "book-run.txt").exists() and (ws / "ansible.cfg").exists()
    assert "filled the artifact sha256 in ssot.yml" in done


def test_init_never_overwrites_the_operators_files(tmp_path, repo_root):
    info = fake_build(tmp_path)
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "ssot.yml").write_text("metadata: {name: mine}\n")
    init_workspace.init(ws, repo_root / "examples" / "legacy-pg", info)
    assert (ws / "ssot.yml").read_text() == "metadata: {name: mine}\n"
    again = init_workspace.init(ws, repo_root / "examples" / "legacy-pg", info)
    assert "kept delivered/legacy-pg-10.23.docker.tar" in again


def test_missing_build_info_is_a_clear_error(tmp_path, capsys):
    assert init_workspace.main([str(tmp_path / "ws"), "--image-info", str(tmp_path / "none.json")]) == 1
    assert "build the image first (make image)" in capsys.readouterr().err


def test_summary_reports_deviations_in_pt_br(tmp_path, repo_root):
    from ansible_collections.ssot.governance.scripts import demo_summary

    ws = tmp_path / "ws"
    init_workspace.init(ws, repo_root / "examples" / "legacy-pg", fake_build(tmp_path))
    ev = ws / "evidence" / "20260101T000000Z-abcd"
    ev.mkdir(parents=True)
    (ws / "runbook.json").write_text(json.dumps({"ssot": {"digest": "sha256:" + "d" * 64}}))
    (ev / "00010-localhost-validate-legacy-pg-demo.json").write_text(json.dumps({
        "server_version": "PostgreSQL 10.23",
        "read_only_session": True, "matched": 1, "deviations": ["setting.wal_level"],
        "checks": [{"id": "postgres.major", "expected": "10", "actual": "10", "status": "match"},
                   {"id": "setting.wal_level", "expected": "logical", "actual": "replica", "status": "deviation"}]}))
    text = demo_summary.summary(ws)
    assert "[DEVIATION] setting.wal_level: esperado logical, obtido replica" in text
    assert "Verificações: 2; conferem: 1; desvios: 1" in text
    assert "Há desvios em relação ao SSOT" in text
    assert "sha256:" + "d" * 64 in text and "127.0.0.1:55432" in text
    assert "evidence/20260101T000000Z-abcd/00010-localhost-validate-legacy-pg-demo.log" in text


def test_demo_keys_make_a_trust_root_outside_the_workspace(tmp_path, repo_root):
    from ansible_collections.ssot.governance.plugins.plugin_utils import _trust
    keys = tmp_path / "keys"
    keys.mkdir()
    for who in ("approver", "recorder"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(keys / f"{who}_ed25519")], check=True)
    ws = tmp_path / "ws"
    build = fake_build(tmp_path)
    done = init_workspace.init(ws, repo_root / "examples" / "legacy-pg", build, keys)
    assert any(d.startswith("wrote the demo trust root") for d in done)
    assert not (ws / "allowed_signers").exists() and not (ws / "trust.yml").exists()
    root = _trust.load([str(ws)], {"SSOT_TRUST_ROOT": str(keys / "trust.yml")})
    assert root.require_signatures and root.require_seals
    assert [s["principals"] for s in root.signers] == [["ana.souza@demo.invalid"], ["recorder@demo.invalid"]]
    assert [s["namespaces"] for s in root.signers] == [["approval@ssot.governance"], ["seal@ssot.governance"]]
    # Written once: a second init changes nothing.
    assert not any(d.startswith("wrote") for d in init_workspace.init(ws, repo_root / "examples" / "legacy-pg",
                                                                      build, keys))


def test_the_example_ships_no_approval_and_no_signers(tmp_path, repo_root):
    ws = tmp_path / "ws"
    init_workspace.init(ws, repo_root / "examples" / "legacy-pg", fake_build(tmp_path))
    assert _decisions.load_approvals(str(ws / "approvals.yml")) == []
    assert "allowed_signers" not in (yaml.safe_load((ws / "ssot.yml").read_text())["hitl"])
