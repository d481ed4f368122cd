"""Phases 1-3 on real servers: PostgreSQL 10.23 (legacy) and 15 (current), real Docker, real playbook runs.

Inventory -> provision -> read-only validation, with findings, decisions that fail closed
until approvals.yml approves them, drift between validations, and proof that the
validation play changes nothing even when asked for every tag.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from _support import (PASSWORD, ROOT, container_file, docker, explain, free_port, psql, run_playbook, views,
                      write_approvals, write_workspace)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def running(server_image, container_names, tmp_path_factory):
    """One server of the matrix, provisioned from its tar and validated once."""
    name = f"ssot-it-{server_image['flavor']}-{tmp_path_factory.getbasetemp().name[-6:]}"
    container_names.append(name)
    ws = write_workspace(tmp_path_factory.mktemp("phases"), server_image, name, free_port())
    prov = run_playbook("ssot.governance.provision", ws)
    assert prov.returncode == 0, explain(prov)
    val = run_playbook("ssot.governance.validate", ws)
    assert val.returncode == 0, explain(val)
    return ws, server_image


def version_text(info: dict) -> str:
    return "PostgreSQL 10.23" if info["flavor"] == "legacy-pg-10.23" else "PostgreSQL 15."


def test_phases_1_to_3_leave_evidence_in_runbook_and_panel(running):
    ws, info = running
    result = ws.latest_result()
    assert version_text(info) in result["server_version"]
    assert [c["status"] for c in result["checks"]] == ["match"] * 6
    assert {"check.server-encoding", "check.pg-stat-statements-loaded"} <= {c["id"] for c in result["checks"]}
    codes = {f["code"]: f["severity"] for f in result["findings"]}
    assert codes.get("listen_all") == "low" and codes.get("sizes") == "info" and "artifact_size" in codes
    assert not [f for f in result["findings"] if f["severity"] in ("high", "critical")], result["findings"]
    # Client tools of the controller and of the container were asked and compared.
    assert any(k.startswith("pg_dump@container:") for k in result["client_versions"])
    runbook, panel = views(ws)
    assert [m["status"] for m in panel["milestones"][:4]] == ["done"] * 4
    names = [e["path"] for e in panel["evidences"]]
    for wanted in ("inventory.log", "inventory.json", "inspect.json", f"{ws.container}.log"):
        assert any(n.endswith(wanted) for n in names), (wanted, names)
    with_evidence = {s["role"]: s for s in runbook["steps"] if s.get("evidence")}
    assert {"ssot.governance.inventory", "ssot.governance.provision", "ssot.governance.validate"} <= set(with_evidence)
    log = ws.evidence(".log")[-1].read_text()
    assert "=> SELECT pg_encoding_to_char(encoding)" in log and "-- findings (always watched)" in log
    # Paths are not secrets (PWD once made the redactor mask every path of the workspace).
    assert "********" not in (ws.path / "runbook.json").read_text()
    assert str(ROOT) in (ws.path / "journal.jsonl").read_text()
    inventory = next(ws.path.glob("evidence/*/*-inventory.log")).read_text()
    assert info["docker_archive_sha256"] in inventory and "format=docker-archive" in inventory


def test_three_wrong_expectations_give_three_deviations_each_with_a_decision(running, tmp_path):
    ws, info = running

    def three_wrong(doc):
        doc["postgres"]["settings"]["wal_level"] = "logical"
        doc["postgres"]["settings"]["max_connections"] = 7
        doc["checks"][0]["expect"] = "LATIN1"

    wrong = write_workspace(tmp_path / "wrong", info, ws.container, ws.port, three_wrong)
    proc = run_playbook("ssot.governance.validate", wrong)
    assert proc.returncode != 0, explain(proc)
    result = wrong.latest_result()
    assert sorted(result["deviations"]) == ["check.server-encoding", "setting.max_connections", "setting.wal_level"]
    decisions = result["decisions"]
    assert len(decisions) == 3 and all(d["status"] == "pending" for d in decisions)
    assert {c["decision"] for c in result["checks"] if c["status"] != "match"} == {d["id"] for d in decisions}
    for d in decisions:
        assert d["id"] in proc.stdout, explain(proc)  # the failure names each pending decision
    runbook, panel = views(wrong)
    assert {d["id"] for d in runbook["decisions"] if d["status"] == "pending"} == {d["id"] for d in decisions}
    assert panel["milestones"][3]["status"] == "blocked"
    assert set(panel["milestones"][3]["decisions_pending"]) == {d["id"] for d in decisions}
    assert {d["id"] for d in panel["deviations"]} == set(result["deviations"])
    # Same deviations, same decision ids on the next run.
    again = run_playbook("ssot.governance.validate", wrong)
    assert again.returncode != 0
    assert {d["id"] for d in wrong.latest_result()["decisions"]} == {d["id"] for d in decisions}
    # A named human accepts the three: the run passes and the runbook records who and why.
    write_approvals(wrong, decisions, "accept")
    ok = run_playbook("ssot.governance.validate", wrong)
    assert ok.returncode == 0, explain(ok)
    runbook, panel = views(wrong)
    approved = [d for d in runbook["decisions"] if d["id"] in {x["id"] for x in decisions}]
    assert all(d["status"] == "approved" and d["answer"]["by"] == "Ana Souza (DBA)" for d in approved)
    assert panel["decisions_pending"] == []


def test_trust_in_pg_hba_is_a_high_finding_with_a_decision(server_image, new_container, tmp_path):
    def trust(doc):
        doc["target"]["env"]["POSTGRES_HOST_AUTH_METHOD"] = "trust"

    ws = write_workspace(tmp_path / "trust", server_image, new_container(), free_port(), trust)
    prov = run_playbook("ssot.governance.provision", ws)
    assert prov.returncode == 0, explain(prov)
    proc = run_playbook("ssot.governance.validate", ws)
    assert proc.returncode != 0, explain(proc)
    finding = next(f for f in ws.latest_result()["findings"] if f["code"] == "trust")
    assert finding["severity"] == "high" and finding["decision"]
    assert "trust" in finding["title"] and "sem senha" in finding["explanation"]
    assert finding["decision"] in proc.stdout
    dummy, panel = views(ws)
    assert any(f["id"] == "finding.trust" and f["severity"] == "high" for f in panel["findings"])


def test_drift_since_the_last_validation(running, tmp_path):
    ws, info = running

    def watch_work_mem(doc):
        doc["postgres"]["settings"]["work_mem"] = "4MB"

    drift = write_workspace(tmp_path / "drift", info, ws.container, ws.port, watch_work_mem)
    first = run_playbook("ssot.governance.validate", drift)
    assert first.returncode == 0, explain(first)
    try:
        psql(ws.container, "ALTER SYSTEM SET work_mem = '64MB'")
        psql(ws.container, "SELECT pg_reload_conf()")
        second = run_playbook("ssot.governance.validate", drift)
    finally:
        psql(ws.container, "ALTER SYSTEM RESET work_mem")
        psql(ws.container, "SELECT pg_reload_conf()")
    assert second.returncode != 0
    dummy, panel = views(drift)
    change = next(c for c in panel["drift"]["changes"] if c["id"] == "setting.work_mem")
    assert change["before"] == {"status": "match", "actual": "4MB"}
    assert change["after"] == {"status": "deviation", "actual": "64MB"}
    assert panel["drift"]["title"] == "Desvios desde a última validação"


def server_state(container: str) -> dict:
    """What a change would touch: every setting, the config files, databases, roles, the container."""
    inspect = json.loads(docker("inspect", container).stdout)[0]
    files = {}
    for name in ("postgresql.conf", "postgresql.auto.conf", "pg_hba.conf", "pg_ident.conf"):
        files[name] = hashlib.sha256(container_file(container, f"/var/lib/postgresql/data/{name}")).hexdigest()
    return {
        "settings": psql(container, "SELECT string_agg(name || '=' || setting, ',' ORDER BY name) FROM pg_settings"),
        "databases": psql(container, "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database"),
        "roles": psql(container, "SELECT string_agg(rolname || ':' || rolsuper, ',' ORDER BY rolname) FROM pg_roles"),
        "files": files,
        "container": (inspect["Id"], inspect["State"]["StartedAt"], inspect["RestartCount"], inspect["Config"]),
    }


@pytest.mark.parametrize("tags", [["--tags", "modify"], ["--tags", "all"], ["--tags", "all,never"]])
def test_validate_changes_nothing_whatever_the_tags(running, tags):
    ws, dummy = running
    before = server_state(ws.container)
    proc = run_playbook("ssot.governance.validate", ws, extra_args=tags)
    assert "changed=0" in proc.stdout and "failed=0" in proc.stdout, explain(proc)
    assert server_state(ws.container) == before
    assert PASSWORD not in proc.stdout


def test_every_other_listener_inside_the_container_is_a_finding(running):
    """What the issue's hostile image did: a second PostgreSQL started inside the container, trust on 0.0.0.0:6666,
    reachable from the Docker network though never published. Validate reads what the container's kernel says
    listens and reports it (high, a decision), besides the published port; once stopped, validate is clean again."""
    ws, dummy = running
    second = ("initdb -D /tmp/second -A trust -U postgres >/dev/null && "
              "pg_ctl -D /tmp/second -o '-p 6666 -c listen_addresses=* -k /tmp' -l /tmp/second.log -w start")
    docker("exec", "-u", "postgres", ws.container, "sh", "-c", second)
    try:
        proc = run_playbook("ssot.governance.validate", ws)
        assert proc.returncode != 0, explain(proc)
        found = {f["id"]: f for f in ws.latest_result()["findings"] if f["code"].startswith("listener_extra")}
        assert set(found) == {"finding.listener_extra.tcp.0.0.0.0.6666", "finding.listener_extra.tcp.-.6666"}, found
        assert all(f["severity"] == "high" and f["decision"] for f in found.values()), found
        assert "0.0.0.0:6666" in found["finding.listener_extra.tcp.0.0.0.0.6666"]["title"]
    finally:
        docker("exec", "-u", "postgres", ws.container, "sh", "-c",
               "pg_ctl -D /tmp/second -m fast -w stop; rm -rf /tmp/second /tmp/second.log", check=False)
    clean = run_playbook("ssot.governance.validate", ws)
    assert clean.returncode == 0, explain(clean)
    assert not [f for f in ws.latest_result()["findings"] if f["code"].startswith("listener_extra")]
