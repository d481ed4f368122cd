"""HITL on a real server: MODIFY plays that fail closed without an approval, through ansible-runner
(no terminal, as AWX runs them) and through a real pseudo-terminal (pexpect), with plan, rollback
data, apply, verify and rollback."""

from __future__ import annotations

import datetime
import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import time

import pexpect
import pytest
import yaml
from _support import (PASSWORD, ROOT, VENV_BIN, docker, explain, free_port, psql, rollback_point, run_playbook,
                      run_runner, spawn_playbook, views, write_approvals, write_workspace)


pytestmark = pytest.mark.integration


def wants_8mb(doc):
    doc["postgres"]["settings"]["work_mem"] = "8MB"


@pytest.fixture(scope="module")
def server(legacy_image, container_names, tmp_path_factory):
    """A legacy server whose SSOT asks work_mem=8MB while it runs the default 4MB."""
    name = f"ssot-it-hitl-{tmp_path_factory.getbasetemp().name[-6:]}"
    container_names.append(name)
    ws = write_workspace(tmp_path_factory.mktemp("hitl"), legacy_image, name, free_port(), wants_8mb)
    proc = run_playbook("ssot.governance.provision", ws)
    assert proc.returncode == 0, explain(proc)
    return ws


@pytest.fixture
def fresh(server):
    """Every test starts from the default value, the module's SSOT and no approvals."""
    spec = (server.path / "ssot.yml").read_text()
    psql(server.container, "ALTER SYSTEM RESET work_mem")
    psql(server.container, "SELECT pg_reload_conf()")
    (server.path / "approvals.yml").unlink(missing_ok=True)
    yield server
    (server.path / "ssot.yml").write_text(spec)
    psql(server.container, "ALTER SYSTEM RESET work_mem")
    psql(server.container, "SELECT pg_reload_conf()")


def respecify(ws, edit):
    """The same environment (its workspace, the container it provisioned) under an SSOT edited by ``edit``: a
    change acts only on the container labelled for its own workspace, so another SSOT is tried in place."""
    doc = yaml.safe_load((ws.path / "ssot.yml").read_text())
    edit(doc)
    (ws.path / "ssot.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return ws


def work_mem(ws) -> str:
    return psql(ws.container, "SHOW work_mem")


def runner(ws, tmp_path, tags="modify", extravars=None, cmdline=""):
    return run_runner(ws, tmp_path, tags=tags, extravars=extravars, cmdline=cmdline)


def pasted(out: str, by="Ana Souza (DBA)", reason="SSOT pede 8MB") -> str:
    """The approvals.yml entry exactly as the failure printed it, placeholders filled by the approver."""
    m = re.search(r"fatal: \[localhost\]: FAILED! => (\{.*\})", out)
    assert m, out[-3000:]
    msg = json.loads(m.group(1))["msg"]
    text = "\n".join(msg) if isinstance(msg, list) else msg
    block = text[text.index("approvals:"):]
    return block.replace("<nome de quem aprova>", by).replace("<por quê>", reason)


def work_mem_decision(ws) -> dict:
    runbook, dummy = views(ws)
    return next(d for d in runbook["decisions"] if d["id"].startswith("validate.setting.work_mem."))


def test_without_approval_it_fails_closed_then_the_pasted_approval_applies_and_verifies(fresh, tmp_path):
    ws = fresh
    rc, out = runner(ws, tmp_path)
    assert rc != 0
    decision = work_mem_decision(ws)
    assert decision["status"] == "pending" and decision["id"] in out
    assert "execução sem terminal: nunca espera" in out
    assert work_mem(ws) == "4MB"  # unchanged
    dummy, panel = views(ws)
    assert decision["id"] in [d["id"] for d in panel["decisions_pending"]]

    (ws.path / "approvals.yml").write_text(pasted(out))
    rc, out = runner(ws, tmp_path)
    assert rc == 0, out[-4000:]
    assert work_mem(ws) == "8MB"
    assert "Verificado: ['setting.work_mem'] conferem com o SSOT." in out
    runbook, panel = views(ws)
    done = next(d for d in runbook["decisions"] if d["id"] == decision["id"])
    assert done["status"] == "approved" and done["answer"]["by"] == "Ana Souza (DBA)"
    assert panel["decisions_pending"] == []
    names = [e["path"] for e in panel["evidences"]]
    for wanted in ("plan-settings.json", "rollback-settings.json", "modify-verify.log"):
        assert any(n.endswith(wanted) for n in names), wanted
    plan = json.loads(next(ws.path.glob("evidence/*/*-plan-settings.json")).read_text())["plan"][0]
    # From pg_settings: from, to, reload (context user) or restart.
    assert (plan["name"], plan["current"], plan["unit"], plan["target"], plan["restart"]) == (
        "work_mem", "4096", "kB", "8MB", False)
    rollback = rollback_point(ws, "settings")
    assert json.loads(sorted(ws.path.glob("evidence/*/*-rollback-settings.json"))[-1].read_text()) == rollback
    entry = rollback["settings"][0]
    assert (entry["name"], entry["current"], entry["source"], entry["rollback"]) == ("work_mem", "4096", "default",
                                                                                     "reset")
    # The rollback is a change: it waits for its own decision, whose card says what it restores.
    rc, out = runner(ws, tmp_path, tags="rollback")
    assert rc != 0 and work_mem(ws) == "8MB", out[-4000:]
    runbook, dummy = views(ws)
    undo = next(d for d in runbook["decisions"] if d["id"].startswith("rollback.settings."))
    assert undo["status"] == "pending" and undo["facts"]["restore"] == [{"name": "work_mem", "to": "RESET"}]
    write_approvals(ws, [undo], "rollback")
    rc, out = runner(ws, tmp_path, tags="rollback")
    assert rc == 0, out[-4000:]
    assert work_mem(ws) == "4MB"
    assert "Rollback verificado" in out
    assert PASSWORD not in out


def approval_for(dec, **change):
    entry = {"decision": dec["id"], "option": "fix", "approved_by": "Ana Souza (DBA)",
             "approved_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
             "reason": "teste", "ssot_digest": dec["ssot_digest"]}
    entry.update(change)
    return entry


@pytest.mark.parametrize("change, why", [
    ({"approved_at": "2025-12-01T00:00:00Z", "expires_at": "2026-01-01T00:00:00Z"}, "expirou"),
    ({"approved_at": "2099-01-01T00:00:00Z"}, "no futuro"),
    ({"approved_by": "Ana\u200b"}, "caracteres invisíveis"),
    ({"ssot_digest": "sha256:" + "0" * 64}, "foi dada para o SSOT"),
    ({"decision": "validate.setting.work_mem.00000000"}, "outra versão deste desvio"),
    ({"option": "drop-table"}, "não é uma das oferecidas"),
])
def test_approvals_that_do_not_count_are_refused_and_nothing_changes(fresh, tmp_path, change, why):
    ws = fresh
    rc, dummy = runner(ws, tmp_path)
    assert rc != 0
    decision = work_mem_decision(ws)
    (ws.path / "approvals.yml").write_text(yaml.safe_dump({"approvals": [approval_for(decision, **change)]}))
    rc, out = runner(ws, tmp_path)
    assert rc != 0 and work_mem(ws) == "4MB"
    assert decision["id"] in out and why in out, out[-3000:]


def accepts_extra_var_approvals(doc):
    wants_8mb(doc)
    doc["hitl"]["extra_var_approvals"] = True


def test_an_approval_passed_as_extra_vars_counts_only_when_the_ssot_accepts_them(fresh, tmp_path):
    ws = fresh
    runner(ws, tmp_path)
    decision = work_mem_decision(ws)
    rc, out = runner(ws, tmp_path, extravars={"ssot_approvals": [approval_for(decision)]})
    assert rc != 0 and "hitl.extra_var_approvals" in out and work_mem(ws) == "4MB", out[-3000:]

    awx = respecify(ws, accepts_extra_var_approvals)
    runner(awx, tmp_path)
    decision = work_mem_decision(awx)
    rc, out = runner(awx, tmp_path, extravars={"ssot_approvals": [approval_for(decision)]})
    assert rc == 0, out[-3000:]
    assert work_mem(awx) == "8MB"


def test_separation_of_duties_refuses_whoever_runs_the_play(fresh, tmp_path):
    ws = fresh
    account = pwd.getpwuid(os.geteuid()).pw_name
    doc = yaml.safe_load((ws.path / "ssot.yml").read_text())
    # Which accounts each approver is: written down (the SSOT adds to the trust root's), never guessed from a name.
    doc["hitl"].update(separation_of_duties=True, accounts={
        "Operador": [account], "Bia Lima": ["bia"], "Carla": ["carla"]})
    sod = respecify(ws, lambda d: d.update(hitl=doc["hitl"], postgres=doc["postgres"]))
    runner(sod, tmp_path)
    decision = work_mem_decision(sod)
    # The system account, whatever USER says; and the AWX launcher, lookalike letters and all.
    for by, extra in (("Operador", {}), ("OPERADOR", {}), ("Bia Lima", {"awx_user_name": "bia lima"}),
                      ("B\u0456a Lima", {"awx_user_name": "Bia Lima"}), ("Bia Lima", {"awx_user_name": "bia"})):
        (sod.path / "approvals.yml").write_text(yaml.safe_dump({"approvals": [approval_for(decision,
                                                                                           approved_by=by)]}))
        rc, out = runner(sod, tmp_path, extravars=extra)
        assert rc != 0 and "separação de funções" in out and work_mem(sod) == "4MB", (by, out[-3000:])
    # An approver nobody mapped to accounts: it cannot be told, so it does not count.
    (sod.path / "approvals.yml").write_text(yaml.safe_dump({"approvals": [approval_for(decision,
                                                                                       approved_by="Dora")]}))
    rc, out = runner(sod, tmp_path, extravars={"awx_user_name": "Bia Lima"})
    assert rc != 0 and "quais contas" in out and work_mem(sod) == "4MB"
    (sod.path / "approvals.yml").write_text(yaml.safe_dump({"approvals": [approval_for(decision,
                                                                                       approved_by="Carla")]}))
    rc, out = runner(sod, tmp_path, extravars={"awx_user_name": "Bia Lima"})
    assert rc == 0 and work_mem(sod) == "8MB", out[-3000:]


FORGED_ANSWER = [{"decision": "validate.setting.work_mem.00000000", "option": "fix", "approved_by": "Ninguem"}]


def forged(name, decision):
    """A value for ``name`` that would open the gate if the launcher's variable were believed."""
    if name == "__hitl_gate_answers":
        return [dict(FORGED_ANSWER[0], decision=decision["id"])]
    if name in ("hitl_gate_proceed", "hitl_gate_proceed_options"):
        return [decision["id"], "fix", "keep"]
    if name == "hitl_gate_result":
        return {"proceed": [decision["id"]], "declined": [], "pending": [], "msg": "ok"}
    if name == "ssot_hitl":
        return {"approvals": [approval_for(decision)], "extra_var_approvals": True, "approvals_file": "/dev/null"}
    if name == "ssot_require_recorder":
        return False
    if name == "hitl_gate_decisions":
        return []
    return "forged"


@pytest.mark.parametrize("names", [["__hitl_gate_answers"], ["hitl_gate_result"], ["hitl_gate_proceed"],
                                   ["hitl_gate_decisions"], ["hitl_gate_proceed_options"], ["ssot_hitl"],
                                   ["ssot_digest"], ["ssot_require_recorder"], ["__modify_plan"],
                                   ["__modify_detect", "ssot_doc", "ssot_workspace_dir", "inventory_decisions"]])
def test_a_launcher_setting_the_gates_variables_is_refused_and_nothing_changes(fresh, tmp_path, names):
    ws = fresh
    runner(ws, tmp_path)
    decision = work_mem_decision(ws)
    for tags in ("modify", "modify,always"):
        rc, out = runner(ws, tmp_path, tags=tags, extravars=dict((n, forged(n, decision)) for n in names))
        assert rc != 0 and work_mem(ws) == "4MB", out[-3000:]
        assert "Execução recusada antes de qualquer ação" in out and all(n in out for n in names), out[-3000:]
    runbook, dummy = views(ws)
    assert all(d["status"] != "approved" for d in runbook["decisions"] if d["id"] == decision["id"])


def test_every_variable_the_collection_sets_is_refused_from_ansible_runner_by_name(fresh, tmp_path):
    """All of them at once (the unit test walks the roles for the list; each name alone is refused there)."""
    sys.path.insert(0, str(ROOT / "tests" / "unit" / "plugins" / "plugin_utils"))
    from test_guard import internal_names
    names = internal_names()
    assert len(names) > 50
    rc, out = runner(fresh, tmp_path, extravars=dict((n, "forged") for n in names))
    assert rc != 0 and work_mem(fresh) == "4MB"
    missing = [n for n in names if n not in out]
    assert missing == [], missing


def test_skipping_the_ssot_role_does_not_skip_the_guard(fresh, tmp_path):
    ws = fresh
    runner(ws, tmp_path)
    decision = work_mem_decision(ws)
    rc, out = runner(ws, tmp_path, tags="modify", extravars={"hitl_gate_proceed": [decision["id"]]},
                     cmdline="--skip-tags always")
    assert rc != 0 and work_mem(ws) == "4MB", out[-3000:]
    assert "hitl_gate_proceed" in out


def spawn_modify(ws):
    """ansible-playbook on a real pseudo-terminal, as an operator at a shell (no CI or AWX markers)."""
    return spawn_playbook(ws, ["ssot.governance.modify", "-e", f"ssot_workspace={ws.path}", "--tags", "modify"])


def test_terminal_card_asks_again_on_a_vague_answer_and_approves_with_aprovar_a(fresh):
    ws = fresh
    child = spawn_modify(ws)
    child.expect("Decisão validate.setting.work_mem")
    child.expect("Opções:")
    child.expect(r"A\) corrigir o servidor conforme o SSOT")
    child.expect("Risco:")
    child.expect("Rollback:")
    child.expect("> ")
    child.sendline("talvez")
    child.expect("Decisão validate.setting.work_mem")  # asked again
    child.expect("> ")
    child.sendline("aprovar A")
    child.expect("Seu nome")
    child.expect("> ")
    child.sendline("Bia Lima (DBA)")
    child.expect("Verificado: \\['setting.work_mem'\\] conferem com o SSOT.")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert work_mem(ws) == "8MB"
    decision = work_mem_decision(ws)
    assert decision["status"] == "approved" and decision["answer"]["by"] == "Bia Lima (DBA)"
    assert decision["answer"]["reason"] == "resposta no terminal"


def test_terminal_rejeitar_stops_with_nothing_changed(fresh):
    ws = fresh
    child = spawn_modify(ws)
    child.expect("Decisão validate.setting.work_mem")
    child.expect("> ")
    child.sendline("rejeitar")
    child.expect("Seu nome")
    child.expect("> ")
    child.sendline("Bia Lima (DBA)")
    child.expect("Nenhuma mudança aprovada")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert work_mem(ws) == "4MB"
    decision = work_mem_decision(ws)
    assert decision["status"] == "rejected" and decision["answer"]["option"] == "reject"


def test_pg_hba_trust_is_replaced_after_approval_and_rolled_back(legacy_image, new_container, tmp_path):
    def trust(doc):
        doc["target"]["env"]["POSTGRES_HOST_AUTH_METHOD"] = "trust"

    ws = write_workspace(tmp_path / "trust", legacy_image, new_container(), free_port(), trust)
    assert run_playbook("ssot.governance.provision", ws).returncode == 0
    rules = "SELECT count(*) FROM pg_hba_file_rules WHERE auth_method = 'trust'"
    before = int(psql(ws.container, rules))
    assert before > 0

    rc, out = runner(ws, tmp_path, tags="modify_pg_hba")
    assert rc != 0 and int(psql(ws.container, rules)) == before
    runbook, dummy = views(ws)
    decision = next(d for d in runbook["decisions"] if d["id"].startswith("finding.trust."))
    assert decision["status"] == "pending" and decision["id"] in out
    assert [o["id"] for o in decision["options"]] == ["remediate", "accept_risk"]

    write_approvals(ws, [decision], "remediate")
    rc, out = runner(ws, tmp_path, tags="modify_pg_hba")
    assert rc == 0, out[-4000:]
    assert int(psql(ws.container, rules)) == 0
    assert "Verificado: pg_hba sem trust" in out
    plan = json.loads(next(ws.path.glob("evidence/*/*-plan-pg_hba.json")).read_text())
    assert plan["changes"] and all(c["after"].split()[-1] in ("md5", "peer") for c in plan["changes"])
    assert plan["path"] == psql(ws.container, "SHOW hba_file")
    # Without trust, a wrong password is refused over TCP now.
    wrong = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(ws.port), "-U", "postgres", "-Atc", "SELECT 1"],
                           env=dict(os.environ, PGPASSWORD="wrong", PGCONNECT_TIMEOUT="5"), capture_output=True,
                           text=True, check=False)
    assert wrong.returncode != 0 and "password authentication failed" in wrong.stderr

    # Bringing trust back is a change of its own: its card lists the lines that come back.
    rc, out = runner(ws, tmp_path, tags="rollback_pg_hba")
    assert rc != 0 and int(psql(ws.container, rules)) == 0, out[-4000:]
    runbook, dummy = views(ws)
    undo = next(d for d in runbook["decisions"] if d["id"].startswith("rollback.pg_hba."))
    assert any(line.endswith("trust") for line in undo["facts"]["adds"]), undo["facts"]
    assert any(line.endswith("trust") for line in undo["facts"]["writes"])
    write_approvals(ws, [undo], "rollback")
    rc, out = runner(ws, tmp_path, tags="rollback_pg_hba")
    assert rc == 0, out[-4000:]
    assert int(psql(ws.container, rules)) == before
    assert "Rollback verificado: pg_hba.conf voltou" in out
    docker("rm", "-f", ws.container, check=False)


def provisioned_for_exposure(legacy_image, new_container, folder):
    """A provisioned server on one free port, and another free port an exposure change can move it to."""
    name = new_container()
    old_port, new_port = free_port(), free_port()
    ws = write_workspace(folder, legacy_image, name, old_port)
    assert run_playbook("ssot.governance.provision", ws).returncode == 0
    return name, ws, old_port, new_port


def remove_exposure_leftovers(name):
    """Every container and committed image an exposure change or its rollback left for ``name``."""
    for other in docker("ps", "-a", "--format", "{{.Names}}", "--filter", f"name={name}").stdout.split():
        docker("rm", "-f", other, check=False)
    for image in docker("images", "--format", "{{.Repository}}:{{.Tag}}", f"{name}-dados").stdout.split():
        docker("rmi", "-f", image, check=False)


def test_exposure_change_republishes_keeping_the_data_and_rolls_back(legacy_image, new_container, tmp_path):
    name, ws, old_port, new_port = provisioned_for_exposure(legacy_image, new_container, tmp_path / "expo")
    psql(name, "CREATE TABLE guarda (v text)")
    psql(name, "INSERT INTO guarda VALUES ('dado de antes')")
    doc = yaml.safe_load((ws.path / "ssot.yml").read_text())
    doc["target"]["ports"][0]["host"] = new_port
    (ws.path / "ssot.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    try:
        rc, out = runner(ws, tmp_path, tags="modify_exposure")
        assert rc != 0 and docker("port", name, "5432/tcp").stdout.split() == [f"127.0.0.1:{old_port}"]
        runbook, dummy = views(ws)
        decision = next(d for d in runbook["decisions"] if d["id"].startswith("validate.exposure.published."))
        assert f"127.0.0.1:{new_port}" in decision["title"] and decision["id"] in out

        write_approvals(ws, [decision], "fix")
        rc, out = runner(ws, tmp_path, tags="modify_exposure")
        assert rc == 0, out[-4000:]
        assert docker("port", name, "5432/tcp").stdout.split() == [f"127.0.0.1:{new_port}"]
        assert psql(name, "SELECT v FROM guarda") == "dado de antes"  # the data came along
        # Republished as provisioning runs it: hardened whatever the committed image says.
        host = json.loads(docker("inspect", name).stdout)[0]["HostConfig"]
        assert host["CapDrop"] == ["ALL"] and host["SecurityOpt"] == ["no-new-privileges"], host
        assert host["PidsLimit"] == 1024, host
        kept = rollback_point(ws, "exposure")
        assert docker("inspect", "-f", "{{.State.Running}}", kept["kept_as"]).stdout.strip() == "false"

        # Rows written after the change: a rollback would drop them, so it is a decision of its own.
        psql(name, "CREATE TABLE depois AS SELECT generate_series(1, 250) AS n")
        rc, out = runner(ws, tmp_path, tags="rollback_exposure")
        assert rc != 0, out[-4000:]
        assert docker("port", name, "5432/tcp").stdout.split() == [f"127.0.0.1:{new_port}"]
        assert psql(name, "SELECT count(*) FROM depois") == "250"
        runbook, dummy = views(ws)
        undo = next(d for d in runbook["decisions"] if d["id"].startswith("rollback.exposure."))
        assert undo["status"] == "pending" and "public.depois" in undo["context"] and undo["id"] in out
        write_approvals(ws, [undo], "rollback")
        rc, out = runner(ws, tmp_path, tags="rollback_exposure")
        assert rc == 0, out[-4000:]
        assert docker("port", name, "5432/tcp").stdout.split() == [f"127.0.0.1:{old_port}"]
        assert psql(name, "SELECT v FROM guarda") == "dado de antes"
        # Nothing destroyed: the container the change made is kept aside with the 250 rows, and snapshotted first.
        undone = docker("ps", "-a", "--format", "{{.Names}}", "--filter", f"name=^{name}-desfeito-").stdout.split()
        assert len(undone) == 1
        docker("start", undone[0])
        try:
            for dummy in range(60):
                if docker("exec", undone[0], "pg_isready", "-U", "postgres", "-q", check=False).returncode == 0:
                    break
                time.sleep(1)
            assert psql(undone[0], "SELECT count(*) FROM depois") == "250"
        finally:
            docker("stop", undone[0], check=False)
        assert list(ws.path.glob("snapshots/*-pre-rollback/manifest.json"))
    finally:
        remove_exposure_leftovers(name)


def test_an_exposure_change_killed_midway_never_leads_to_an_empty_server(legacy_image, new_container, tmp_path):
    name, ws, old_port, new_port = provisioned_for_exposure(legacy_image, new_container, tmp_path / "midway")
    psql(name, "CREATE TABLE guarda AS SELECT generate_series(1, 42) AS n")
    doc = yaml.safe_load((ws.path / "ssot.yml").read_text())
    doc["target"]["ports"][0]["host"] = new_port
    (ws.path / "ssot.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    # A docker CLI that, right after the old container is set aside, kills the whole run (kill -9): the moment
    # between "container kept aside" and "new container runs".
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "docker").write_text(
        "#!/bin/sh\n%s \"$@\"; rc=$?\n"
        "if [ \"$1\" = rename ]; then case \"$3\" in *-antes-*) pkill -9 -f 'ansible-playbook ssot.governance.modify'"
        ";; esac; fi\nexit $rc\n" % shutil.which("docker"))
    (shim / "docker").chmod(0o755)
    try:
        runner(ws, tmp_path, tags="modify_exposure")
        runbook, dummy = views(ws)
        decision = next(d for d in runbook["decisions"] if d["id"].startswith("validate.exposure.published."))
        write_approvals(ws, [decision], "fix")
        killed = run_playbook("ssot.governance.modify", ws, extra_args=["--tags", "modify_exposure"],
                              env_extra={"PATH": f"{shim}:{VENV_BIN}:{os.environ.get('PATH', '')}"})
        assert killed.returncode == -9, explain(killed)
        kept = docker("ps", "-a", "--format", "{{.Names}}", "--filter", f"name=^{name}-antes-").stdout.split()
        assert len(kept) == 1 and docker("ps", "-a", "--format", "{{.Names}}", "--filter",
                                         f"name=^{name}$").stdout.split() == []
        # Provisioning now would create an empty server under the production name: it refuses, naming the kept one,
        # and the run names the change that was interrupted.
        proc = run_playbook("ssot.governance.provision", ws)
        assert proc.returncode != 0 and kept[0] in proc.stdout, explain(proc)
        assert "morreu sem terminar" in proc.stdout + proc.stderr, explain(proc)
        assert docker("ps", "-a", "--format", "{{.Names}}", "--filter", f"name=^{name}$").stdout.split() == []
        # The rollback finds the kept container in the engine (the change died before its rollback point was
        # recorded) and brings it back - a change of its own, approved like any other.
        rc, out = runner(ws, tmp_path, tags="rollback_exposure")
        assert rc != 0, out[-4000:]
        runbook, dummy = views(ws)
        undo = next(d for d in runbook["decisions"] if d["id"].startswith("rollback.exposure."))
        assert undo["facts"]["brings_back"] == kept[0]
        write_approvals(ws, [undo], "rollback")
        rc, out = runner(ws, tmp_path, tags="rollback_exposure")
        assert rc == 0, out[-4000:]
        assert psql(name, "SELECT count(*) FROM guarda") == "42"
        assert docker("port", name, "5432/tcp").stdout.split() == [f"127.0.0.1:{old_port}"]
    finally:
        remove_exposure_leftovers(name)
