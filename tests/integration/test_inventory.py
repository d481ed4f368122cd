"""Phase 1 on real tars and a real engine: both delivered formats, divergences that block
provisioning until a named human approves a path, and an image tag that cannot be trusted."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import build_pg_image
import yaml
from _support import (CACHE, IMAGE, docker, explain, free_port, run_playbook, views, write_approvals,
                      write_workspace)

pytestmark = pytest.mark.integration


def deliver_oci(info):
    def edit(doc):
        doc["artifacts"][0].update(path=f"delivered/{Path(info['oci_archive']).name}", format="oci-layout",
                                   sha256=info["oci_archive_sha256"])
        # Its own tag, so the converted image never replaces the one other tests run.
        doc["target"]["image"] = "legacy-pg-oci:10.23"
    return edit


def test_oci_layout_on_the_classic_store_needs_a_decision_then_converts(legacy_image, new_container, tmp_path):
    if int(docker("info", "--format", "{{.ServerVersion}}").stdout.strip().split(".")[0]) >= 25:
        pytest.fail("this engine loads OCI layouts itself; the test needs the classic store of Debian's docker.io")
    ws = write_workspace(tmp_path / "oci", legacy_image, new_container(), free_port(), deliver_oci(legacy_image))
    os.link(legacy_image["oci_archive"], ws.path / "delivered" / Path(legacy_image["oci_archive"]).name)
    docker("rmi", "-f", "legacy-pg-oci:10.23", check=False)

    blocked = run_playbook("ssot.governance.provision", ws)
    assert blocked.returncode != 0
    runbook, panel = views(ws)
    decision = next(d for d in runbook["decisions"] if ".engine." in d["id"])
    assert decision["status"] == "pending" and [o["id"] for o in decision["options"]] == ["convert", "rebuild"]
    assert f"[{decision['id']}]" in blocked.stdout, explain(blocked)
    assert "Load the image tar" not in blocked.stdout  # stopped before loading anything
    assert docker("image", "inspect", "legacy-pg-oci:10.23", check=False).returncode != 0
    assert decision["id"] in panel["milestones"][2]["decisions_pending"]

    write_approvals(ws, [decision], "convert")
    proc = run_playbook("ssot.governance.provision", ws)
    assert proc.returncode == 0, explain(proc)
    assert "mesmos diff_ids" in proc.stdout
    converted = ws.path / "converted" / "legacy-image.docker.tar"
    assert converted.is_file()
    assert next(ws.path.glob("evidence/*/*-convert.log")).read_text().count("format=docker-archive") == 1
    loaded = docker("image", "inspect", "-f", "{{json .RootFS.Layers}}", "legacy-pg-oci:10.23").stdout
    original = docker("image", "inspect", "-f", "{{json .RootFS.Layers}}", IMAGE, check=False).stdout
    assert loaded.strip() and (not original.strip() or loaded == original)
    assert docker("inspect", "-f", "{{.State.Running}}", ws.container).stdout.strip() == "true"
    runbook, dummy = views(ws)
    done = next(d for d in runbook["decisions"] if d["id"] == decision["id"])
    assert done["status"] == "approved" and done["answer"]["option"] == "convert"
    docker("rm", "-f", ws.container, check=False)
    docker("rmi", "-f", "legacy-pg-oci:10.23", check=False)


def test_another_sha256_blocks_with_a_stable_decision_until_path_a_is_approved(legacy_image, new_container,
                                                                               tmp_path):
    def other_sha(doc):
        doc["artifacts"][0]["sha256"] = "0" * 64

    ws = write_workspace(tmp_path / "sha", legacy_image, new_container(), free_port(), other_sha)
    first = run_playbook("ssot.governance.provision", ws)
    second = run_playbook("ssot.governance.provision", ws)
    assert first.returncode != 0 and second.returncode != 0
    runbook, panel = views(ws)
    ids = [d["id"] for d in runbook["decisions"]]
    assert len(ids) == 1 and ids[0].startswith("inventory.legacy-image.sha256.")
    assert ids[0] in first.stdout and ids[0] in second.stdout
    decision = runbook["decisions"][0]
    assert [o["id"] for o in decision["options"]] == ["use_delivered", "rebuild"]
    assert {d["id"] for d in panel["deviations"]} == {"artifact.legacy-image.sha256"}
    assert docker("inspect", ws.container, check=False).returncode != 0  # nothing ran

    # An approval for another SSOT digest does not count.
    write_approvals(ws, [dict(decision, ssot_digest="sha256:" + "f" * 64)], "use_delivered")
    assert run_playbook("ssot.governance.provision", ws).returncode != 0
    write_approvals(ws, [decision], "use_delivered")
    proc = run_playbook("ssot.governance.provision", ws)
    assert proc.returncode == 0, explain(proc)
    assert docker("inspect", "-f", "{{.State.Running}}", ws.container).stdout.strip() == "true"


def test_a_missing_artifact_blocks_provisioning(legacy_image, new_container, tmp_path):
    def missing(doc):
        doc["artifacts"][0]["path"] = "delivered/nao-entregue.tar"

    ws = write_workspace(tmp_path / "missing", legacy_image, new_container(), free_port(), missing)
    proc = run_playbook("ssot.governance.provision", ws)
    assert proc.returncode != 0
    assert "não encontrado (delivered/nao-entregue.tar)" in proc.stdout, explain(proc)
    runbook, dummy = views(ws)
    assert [o["id"] for o in runbook["decisions"][0]["options"]] == ["rebuild"]


def test_an_image_tag_that_points_elsewhere_is_reloaded_from_the_tar(legacy_image, new_container, tmp_path):
    other = build_pg_image.build("pg-15", CACHE)
    docker("tag", other["image"], IMAGE)  # another image now answers to legacy-pg:10.23
    ws = write_workspace(tmp_path / "tag", legacy_image, new_container(), free_port())
    proc = run_playbook("ssot.governance.provision", ws)
    assert proc.returncode == 0, explain(proc)
    assert docker("image", "inspect", "-f", "{{.Id}}", IMAGE).stdout.strip() == legacy_image["image_id"]
    version = docker("exec", ws.container, "postgres", "--version").stdout
    assert "10.23" in version


def test_another_image_reference_approved_as_delivered_runs_under_the_ssot_name(legacy_image, new_container,
                                                                                tmp_path):
    def vendor_name(doc):
        doc["artifacts"][0]["image"] = "vendor/legacy-db:2019"
        doc["target"]["image"] = "vendor/legacy-db:2019"

    docker("rmi", "-f", "vendor/legacy-db:2019", check=False)
    ws = write_workspace(tmp_path / "ref", legacy_image, new_container(), free_port(), vendor_name)
    blocked = run_playbook("ssot.governance.provision", ws)
    assert blocked.returncode != 0
    runbook, dummy = views(ws)
    decision = runbook["decisions"][0]
    assert decision["id"].startswith("inventory.legacy-image.image.")
    assert "legacy-pg:10.23" in decision["title"] and "vendor/legacy-db:2019" in decision["title"]
    write_approvals(ws, [decision], "use_delivered")
    proc = run_playbook("ssot.governance.provision", ws)
    assert proc.returncode == 0, explain(proc)
    assert docker("image", "inspect", "-f", "{{.Id}}", "vendor/legacy-db:2019").stdout.strip() == legacy_image["image_id"]
    assert docker("inspect", "-f", "{{.Config.Image}}", ws.container).stdout.strip() == "vendor/legacy-db:2019"
    again = run_playbook("ssot.governance.provision", ws)
    assert again.returncode == 0 and "changed=0" in again.stdout, explain(again)
    docker("rm", "-f", ws.container, check=False)
    docker("rmi", "vendor/legacy-db:2019", check=False)


def test_check_mode_provisions_nothing_and_reports_the_plan(legacy_image, new_container, tmp_path):
    ws = write_workspace(tmp_path / "check", legacy_image, new_container(), free_port())
    proc = run_playbook("ssot.governance.provision", ws, extra_args=["--check", "--diff"])
    assert proc.returncode == 0, explain(proc)
    assert "changed: [localhost]" in proc.stdout  # the container it would create
    assert docker("inspect", ws.container, check=False).returncode != 0
    runbook, dummy = views(ws)
    assert any(s["name"].endswith("Run the container as the SSOT describes") and s["status"] == "done"
               for s in runbook["steps"])


def test_provision_refuses_to_republish_a_container_with_data(legacy_image, new_container, tmp_path):
    ws = write_workspace(tmp_path / "ports", legacy_image, new_container(), free_port())
    assert run_playbook("ssot.governance.provision", ws).returncode == 0
    before = docker("inspect", "-f", "{{.Id}}", ws.container).stdout.strip()
    doc = yaml.safe_load((ws.path / "ssot.yml").read_text())
    doc["target"]["ports"][0]["host"] = free_port()
    (ws.path / "ssot.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    proc = run_playbook("ssot.governance.provision", ws)
    assert proc.returncode != 0
    assert f"publica 127.0.0.1:{ws.port}" in proc.stdout and "recria o contêiner" in proc.stdout, explain(proc)
    assert docker("inspect", "-f", "{{.Id}}", ws.container).stdout.strip() == before
    docker("rm", "-f", ws.container, check=False)
