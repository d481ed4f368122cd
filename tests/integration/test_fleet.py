"""The environments of an inventory, reached over real SSH (sshd on loopback), each its own PostgreSQL major,
workspace, container and port, governed in one run (docs/fleet.md). Real Docker, real servers; nothing mocked."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time

import build_pg_image
import pytest
from _fleet import FLAVORS, TARGET_ROOT, Fleet, place_on_target, save_ssot, ssot_of
from _support import CACHE, docker, explain, psql


@pytest.fixture(scope="module")
def images(docker_engine):
    return dict((f, build_pg_image.build(f, CACHE)) for f in FLAVORS)


@pytest.fixture(scope="module")
def fleet(images, tmp_path_factory, container_names):
    def containers():
        name = f"ssot-fleet-{os.urandom(4).hex()}"
        container_names.append(name)
        return name

    def edit(host, doc):
        if host.name == "db-legado-2":
            # Already on that host: under its own target folder only, never in the workspace.
            doc["artifacts"][0].update(location="target", path=place_on_target(host, images[host.flavor]))
    f = Fleet(tmp_path_factory.mktemp("fleet"), FLAVORS, images, containers, edit)
    for h in f.hosts:
        if h.name == "db-legado-2":
            for tar in (h.workspace / "delivered").glob("*.tar"):
                tar.unlink()
    yield f
    f.close()


def _runs(fleet, host):
    return [line for line in fleet.journal(host) if line["kind"] == "run_start"]


def test_one_run_provisions_and_validates_three_hosts_over_ssh(fleet, images):
    proc = fleet.run()
    assert proc.returncode == 0, explain(proc)
    for h in fleet.hosts:
        # Each host: its container runs its own major, reached on its own port.
        version = psql(h.container, "show server_version")
        assert version.startswith({"legacy-pg-10.23": "10.23", "legacy-pg-12.22": "12.22", "pg-15": "15."}[h.flavor])
        # A complete workspace: journal, views, evidence of both plays, one run recorded.
        for name in ("journal.jsonl", "runbook.json", "project-panel.json", "project-panel.html",
                     "homologacao-conectividade-ssot.md"):
            assert (h.workspace / name).is_file(), (h.name, name)
        runs = _runs(fleet, h)
        assert len(runs) == 1 and runs[0]["data"]["playbook"] == "site.yml"
        results = [line["data"] for line in fleet.journal(h) if line["kind"] == "result"]
        assert results and set(r["host"] for r in results) == {h.name}, "a host's journal holds only its results"
        panel = json.loads((h.workspace / "project-panel.json").read_text())
        assert {m["phase"]: m["status"] for m in panel["milestones"]}[3] == "done", (h.name, panel["milestones"])
        assert panel["decisions_pending"] == []
    # The artifact copied from the controller exists only under that host's own target folder, checked by sha256.
    one, two, three = fleet.hosts
    tar = os.path.basename(images[one.flavor]["docker_archive"])
    assert (one.target / "artifacts" / tar).is_file() and not (two.target / "artifacts").exists()
    assert not os.listdir(TARGET_ROOT), "the controller's own /srv/ssot-target stays empty"
    assert not list((two.workspace / "delivered").glob("*.tar")), "host 2's tar is on its target only"
    # The fleet view beside the workspaces: one row per environment, each linking to its own panel.
    fleet_doc = json.loads((fleet.root / "ws" / "fleet-panel.json").read_text())
    assert [r["host"] for r in fleet_doc["environments"]] == [h.name for h in fleet.hosts]
    for row, h in zip(fleet_doc["environments"], fleet.hosts):
        assert (fleet.root / "ws" / row["panel"]).resolve() == (h.workspace / "project-panel.html").resolve()
        assert row["last_run"]["status"] == "ok"
    html = (fleet.root / "ws" / "fleet-panel.html").read_text()
    assert html.count('<tr class="env"') == 3


def test_a_second_run_skips_the_copy_the_target_already_holds(fleet):
    proc = fleet.run("site.yml", "--limit", "db-legado-1")
    assert proc.returncode == 0, explain(proc)
    assert "copied now: False" in proc.stdout or "copiado agora: False" in proc.stdout, explain(proc)
    assert len(_runs(fleet, fleet.hosts[0])) == 2
    assert len(_runs(fleet, fleet.hosts[1])) == 1 and len(_runs(fleet, fleet.hosts[2])) == 1, "--limit ran one"
