"""The environments of an inventory, reached over real SSH (sshd on loopback), each its own PostgreSQL major,
workspace, container and port, governed in one run (docs/fleet.md). Real Docker, real servers; nothing mocked."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time

import build_pg_image
import pytest
from _fleet import FLAVORS, TARGET_ROOT, Fleet, place_on_target, save_ssot, ssot_of
from _support import CACHE, PASSWORD, Dom, explain, psql


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
    # The superuser password (the run's secret, given to every container) reaches no file of any workspace nor the
    # fleet view.
    written = [p for p in (fleet.root / "ws").rglob("*") if p.is_file() and "delivered" not in p.parts]
    assert len(written) > 30 and [str(p) for p in written if PASSWORD.encode() in p.read_bytes()] == []
    # The fleet view beside the workspaces: one row per environment, each linking to its own panel.
    fleet_doc = json.loads((fleet.root / "ws" / "fleet-panel.json").read_text())
    assert [r["host"] for r in fleet_doc["environments"]] == [h.name for h in fleet.hosts]
    for row, h in zip(fleet_doc["environments"], fleet.hosts):
        assert (fleet.root / "ws" / row["panel"]).resolve() == (h.workspace / "project-panel.html").resolve()
        assert row["last_run"]["status"] == "ok"
    # Rendered by a real browser (Debian's chromium, headless) from the file: three rows, each link resolves.
    chromium = shutil.which("chromium")
    assert chromium, "chromium is not installed: run the suite with `make test` (SSOT_WITH_BROWSER=1 installs it)"
    page = fleet.root / "ws" / "fleet-panel.html"
    dom = subprocess.run([chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                          f"--user-data-dir={fleet.base / 'chromium'}", "--dump-dom", page.as_uri()],
                         capture_output=True, text=True, timeout=120, check=False)
    assert dom.returncode == 0 and "</html>" in dom.stdout, dom.stderr[-2000:]
    parsed = Dom()
    parsed.feed(dom.stdout)
    rows = [a["data-host"] for tag, a in parsed.elements if tag == "tr" and "data-host" in a]
    assert rows == [h.name for h in fleet.hosts]
    links = [a["href"] for tag, a in parsed.elements if tag == "a"]
    assert len(links) == 3 and all((page.parent / href).is_file() for href in links), links
    assert not [tag for tag, dummy in parsed.elements if tag in ("script", "link", "img", "iframe")]


def test_a_second_run_skips_the_copy_the_target_already_holds(fleet):
    proc = fleet.run("site.yml", "--limit", "db-legado-1")
    assert proc.returncode == 0, explain(proc)
    assert "copied now: False" in proc.stdout or "copiado agora: False" in proc.stdout, explain(proc)
    assert len(_runs(fleet, fleet.hosts[0])) == 2
    assert len(_runs(fleet, fleet.hosts[1])) == 1 and len(_runs(fleet, fleet.hosts[2])) == 1, "--limit ran one"


def _recap(proc):
    """{host: (ok, failed)} from the play recap."""
    import re
    out = {}
    for m in re.finditer(r"^(\S+)\s+: ok=(\d+)\s+changed=\d+\s+unreachable=(\d+)\s+failed=(\d+)", proc.stdout, re.M):
        out[m.group(1)] = (int(m.group(2)), int(m.group(3)) + int(m.group(4)))
    return out


def test_a_deviation_on_one_host_fails_only_that_host(fleet):
    two = fleet.hosts[1]
    doc = ssot_of(two)
    original = doc
    planted = json.loads(json.dumps(doc))
    planted["postgres"]["settings"]["work_mem"] = "64MB"      # the server runs the default: a deviation
    save_ssot(two, planted)
    try:
        proc = fleet.run("ssot.governance.validate")
    finally:
        save_ssot(two, original)
    recap = _recap(proc)
    assert proc.returncode == 2, explain(proc)
    assert recap["db-legado-2"][1] == 1 and recap["db-legado-1"][1] == 0 and recap["db-legado-3"][1] == 0, explain(proc)
    for h in fleet.hosts:
        panel = json.loads((h.workspace / "project-panel.json").read_text())
        pending = [d["id"] for d in panel["decisions_pending"]]
        if h is two:
            assert any("work_mem" in d for d in pending), pending
        else:
            assert pending == [], (h.name, pending)
            assert {m["phase"]: m["status"] for m in panel["milestones"]}[3] == "done"
    rows = json.loads((fleet.root / "ws" / "fleet-panel.json").read_text())["environments"]
    assert [len(r["decisions_pending"]) > 0 for r in rows] == [False, True, False]


def test_the_same_host_twice_at_once_the_second_is_refused_for_that_host_disjoint_hosts_both_run(fleet):
    # A long first run on host 1 (the validate play waits on a slow task of its own: a sleeping psql is not
    # needed - the run is held at a pause-free point by running provision+validate on hosts 1 and 2).
    first = fleet.spawn("ssot.governance.validate", "--limit", "db-legado-1,db-legado-2")
    try:
        deadline = time.time() + 60
        lock = fleet.hosts[0].workspace / ".recorder.lock"
        while time.time() < deadline and not (lock.exists() and lock.read_text().strip()):
            time.sleep(0.1)
        assert lock.read_text().strip(), "the first run never locked host 1's workspace"
        # Same host 1 (plus host 3): host 1 is refused alone with the reason; host 3 runs.
        second = fleet.run("ssot.governance.validate", "--limit", "db-legado-1,db-legado-3")
        recap = _recap(second)
        assert "db-legado-1" in second.stdout + second.stderr and (
            "em uso por outra execução" in second.stdout + second.stderr), explain(second)
        assert recap["db-legado-1"][1] == 1 and recap["db-legado-3"] == (recap["db-legado-3"][0], 0), explain(second)
    finally:
        out, dummy = first.communicate(timeout=600)
    assert first.returncode in (0, 2), out[-3000:]
    assert _recap(subprocess.CompletedProcess([], 0, out, ""))["db-legado-1"][1] == 0, out[-3000:]


def test_kill_9_during_a_three_host_run_marks_each_run_interrupted_at_the_next(fleet):
    proc = fleet.spawn("site.yml")
    before = dict((h.name, len(_runs(fleet, h))) for h in fleet.hosts)
    deadline = time.time() + 120
    # Wait until every host has started this run and is in the middle of it.
    while time.time() < deadline:
        if all(len(_runs(fleet, h)) > before[h.name] for h in fleet.hosts) and all(
                any(line["kind"] == "result" for line in fleet.journal(h)[-20:]) for h in fleet.hosts):
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    killed = dict((h.name, _runs(fleet, h)[-1]["run"]) for h in fleet.hosts)
    nxt = fleet.run("site.yml")
    assert nxt.returncode == 0, explain(nxt)
    for h in fleet.hosts:
        marks = [line["data"] for line in fleet.journal(h) if line["kind"] == "run_interrupted"]
        assert marks and marks[-1]["interrupted_run"] == killed[h.name], (h.name, marks)


def test_an_empty_group_is_a_clear_error_naming_it(fleet):
    empty = fleet.root / "empty.ini"
    empty.write_text("[ssot_targets]\n\n[outros]\nalgum-host\n")
    proc = fleet.run("ssot.governance.validate", "-i", str(empty))
    assert proc.returncode != 0
    said = proc.stdout + proc.stderr
    assert "nenhum ambiente para governar" in said and "[ssot_targets]" in said and "-e ssot_hosts=" in said, said


def test_preflight_names_what_a_host_lacks_and_changes_nothing(fleet):
    three = fleet.hosts[2]
    inventory = (fleet.root / "inventory.ini").read_text().replace(
        f"{three.name} ansible_host=", f"{three.name} ansible_python_interpreter=/opt/nada/python3 ansible_host=")
    broken = fleet.root / "broken.ini"          # beside the workspaces: inventory_dir is the same
    broken.write_text(inventory)
    proc = fleet.run("ssot.governance.validate", "-i", str(broken), "--limit", three.name)
    assert proc.returncode == 2
    assert "não tem o Python /opt/nada/python3" in proc.stdout, explain(proc)
    # The same host with a folder it cannot write as target.dir: the preflight module says so.
    doc = ssot_of(three)
    bad = json.loads(json.dumps(doc))
    bad["target"]["dir"] = "/etc/hostname/ssot"
    save_ssot(three, bad)
    try:
        proc = fleet.run("ssot.governance.validate", "--limit", three.name)
    finally:
        save_ssot(three, doc)
    assert proc.returncode == 2 and "não está pronto; falta" in proc.stdout and "/etc/hostname/ssot" in proc.stdout, \
        explain(proc)


def test_a_snapshot_over_ssh_stays_on_its_target_and_is_verified_and_restored_there(fleet):
    one = fleet.hosts[0]
    proc = fleet.run("ssot.governance.snapshot", "--limit", one.name)
    assert proc.returncode == 0, explain(proc)
    # The files are on host 1's target (target.dir/snapshots), nowhere in the workspace or on the other hosts.
    taken = sorted((one.target / "snapshots").iterdir())
    assert taken and (taken[-1] / "manifest.json").is_file()
    assert not (one.workspace / "snapshots").exists()
    assert not any((h.target / "snapshots").exists() for h in fleet.hosts[1:])
    # Their manifest and hashes came back as evidence; the journal names the target path.
    snaps = [line["data"] for line in fleet.journal(one) if line["kind"] == "snapshot"]
    assert snaps and snaps[-1]["path"].startswith(TARGET_ROOT + "/snapshots/"), snaps[-1]
    panel = json.loads((one.workspace / "project-panel.json").read_text())
    assert panel["snapshots"][-1]["status"] == "verified" and panel["snapshots"][-1].get("restore") == "passed", \
        panel["snapshots"][-1]
    # A manifest rewritten on the target, with the file it lists, is caught against the journal on the controller.
    manifest = taken[-1] / "manifest.json"
    doc = json.loads(manifest.read_text())
    doc["files"] = [dict(f, sha256="0" * 64) if i == 0 else f for i, f in enumerate(doc["files"])]
    manifest.write_text(json.dumps(doc))
    again = fleet.run("ssot.governance.snapshot", "--limit", one.name, "--tags", "restore_test")
    assert again.returncode == 2, explain(again)


def test_a_host_whose_workspace_is_missing_fails_alone_with_the_reason(fleet):
    three = fleet.hosts[2]
    inventory = (fleet.root / "inventory.ini").read_text().replace(
        f"{three.name} ansible_host=", f"{three.name} ssot_workspace={fleet.root}/nao-existe ansible_host=")
    gone = fleet.root / "missing.ini"
    gone.write_text(inventory)
    before = dict((h.name, len(_runs(fleet, h))) for h in fleet.hosts)
    proc = fleet.run("ssot.governance.validate", "-i", str(gone))
    recap = _recap(proc)
    assert proc.returncode == 2, explain(proc)
    assert recap["db-legado-3"][1] == 1 and recap["db-legado-1"][1] == 0 and recap["db-legado-2"][1] == 0, \
        explain(proc)
    assert f"{fleet.root}/nao-existe" in proc.stdout + proc.stderr, explain(proc)
    assert not (fleet.root / "nao-existe").exists(), "a missing workspace is never created"
    after = dict((h.name, len(_runs(fleet, h))) for h in fleet.hosts)
    assert after == dict(before, **{"db-legado-1": before["db-legado-1"] + 1, "db-legado-2": before["db-legado-2"] + 1})


def test_a_settings_change_over_ssh_fails_closed_then_applies_with_its_approval_and_rolls_back(fleet):
    import datetime
    import yaml
    three = fleet.hosts[2]
    original = ssot_of(three)
    changed = json.loads(json.dumps(original))
    changed["postgres"]["settings"]["work_mem"] = "8MB"
    approvals = (three.workspace / "approvals.yml").read_text()
    save_ssot(three, changed)
    try:
        blocked = fleet.run("ssot.governance.modify", "--tags", "modify_settings", "--limit", three.name)
        assert blocked.returncode != 0 and psql(three.container, "SHOW work_mem") == "4MB", explain(blocked)
        runbook = json.loads((three.workspace / "runbook.json").read_text())
        decision = next(d for d in runbook["decisions"] if "work_mem" in d["id"] and d["status"] == "pending")
        (three.workspace / "approvals.yml").write_text(yaml.safe_dump({"approvals": [{
            "decision": decision["id"], "option": "fix", "approved_by": "Ana Souza (DBA)",
            "approved_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "reason": "teste da frota", "ssot_digest": decision["ssot_digest"]}]}, sort_keys=False))
        # The approval is read on the controller, the change is made and verified on host 3's server.
        applied = fleet.run("ssot.governance.modify", "--tags", "modify_settings", "--limit", three.name)
        assert applied.returncode == 0, explain(applied)
        assert psql(three.container, "SHOW work_mem") == "8MB"
        assert all(psql(h.container, "SHOW work_mem") == "4MB" for h in fleet.hosts[:2])
        assert list(three.workspace.glob("evidence/*/*-rollback-settings.json"))
        # The rollback is a change of its own: its decision waits, then an approval lets it restore 4MB.
        waiting = fleet.run("ssot.governance.modify", "--tags", "rollback", "--limit", three.name)
        assert waiting.returncode != 0 and psql(three.container, "SHOW work_mem") == "8MB", explain(waiting)
        runbook = json.loads((three.workspace / "runbook.json").read_text())
        undo = next(d for d in runbook["decisions"] if d["id"].startswith("rollback.settings.")
                    and d["status"] == "pending")
        entries = yaml.safe_load((three.workspace / "approvals.yml").read_text())["approvals"]
        entries.append(dict(entries[0], decision=undo["id"], option="rollback", ssot_digest=undo["ssot_digest"]))
        (three.workspace / "approvals.yml").write_text(yaml.safe_dump({"approvals": entries}, sort_keys=False))
        undone = fleet.run("ssot.governance.modify", "--tags", "rollback", "--limit", three.name)
        assert undone.returncode == 0, explain(undone)
        assert psql(three.container, "SHOW work_mem") == "4MB"
    finally:
        save_ssot(three, original)
        (three.workspace / "approvals.yml").write_text(approvals)


HOSTILE_PYTHON = r'''#!/bin/sh
# A target host whose Python lies: the module's real answer, then every record only the controller may make.
out="$(/usr/bin/python3 "$@")"
rc=$?
printf '%s' "$out" | /usr/bin/python3 -c '
import json, sys
text = sys.stdin.read()
start = text.find("{")
try:
    data = json.loads(text[start:])
except ValueError:
    sys.stdout.write(text)
    raise SystemExit(0)
answer = {"option": "fix", "by": "ana@example.org", "at": "2026-12-06T00:00:00Z", "signed": True,
          "key": "SHA256:forged"}
for d in data.get("decisions") or []:
    # ... and words its decisions to mislead whoever reads the card.
    d.update(status="approved", answer=answer, title="HARMLESS: approve A", context="HARMLESS, nothing changes",
             risk="HARMLESS", rollback="HARMLESS", phase=9)
data["snapshot"] = {"path": "/srv/ssot-target/snapshots/forged", "status": "verified", "restore": "passed", "files": 4}
data["rollback"] = {"subject": "settings", "event": "point", "data": {"container": "x", "settings": [
    {"name": "work_mem", "current": "64MB", "rollback": "set", "context": "user"}]}}
data["milestone"] = {"phase": 3, "status": "clear", "next_steps": []}
data["ssot_loaded"] = {"path": "/tmp/forged.yml", "digest": "sha256:" + "0" * 64, "language": "en"}
sys.stdout.write(text[:start] + json.dumps(data))
'
exit $rc
'''


def test_target_a_hostile_python_claims_in_vain(fleet, tmp_path):
    """A target reports observations; the controller decides (docs/security.md). Its Python here answers every module
    with approved decisions, a verified and restored snapshot that does not exist, a rollback point and a clear
    milestone: none is kept, each claim is recorded as refused, and no change follows from them."""
    one = fleet.hosts[0]
    hostile = tmp_path / "hostile-python"
    hostile.write_text(HOSTILE_PYTHON)
    hostile.chmod(0o755)
    inventory = (fleet.root / "inventory.ini").read_text().replace(
        f"{one.name} ansible_host=", f"{one.name} ansible_python_interpreter={hostile} ansible_host=")
    lying = fleet.root / "lying.ini"
    lying.write_text(inventory)
    original = ssot_of(one)
    changed = json.loads(json.dumps(original))
    changed["postgres"]["settings"]["work_mem"] = "8MB"
    save_ssot(one, changed)
    seen = len(fleet.journal(one))
    try:
        validated = fleet.run("ssot.governance.validate", "-i", str(lying), "--limit", one.name)
        modified = fleet.run("ssot.governance.modify", "-i", str(lying), "--tags", "modify_settings", "--limit",
                             one.name)
        undone = fleet.run("ssot.governance.modify", "-i", str(lying), "--tags", "rollback", "--limit", one.name)
    finally:
        save_ssot(one, original)
    assert validated.returncode != 0 and modified.returncode != 0 and undone.returncode != 0, explain(modified)
    assert psql(one.container, "SHOW work_mem") == "4MB"
    lines = fleet.journal(one)[seen:]
    kinds = [line["kind"] for line in lines]
    refused = [line["data"] for line in lines if line["kind"] == "refused"]
    assert set(r["record"] for r in refused) >= {"snapshot", "rollback", "milestone", "ssot_loaded"}, refused
    assert "snapshot" not in kinds and "rollback" not in kinds
    decisions = [line["data"] for line in lines if line["kind"] == "decision"]
    assert decisions and all(d["status"] == "pending" and "answer" not in d for d in decisions)
    # The words are the controller's, from the decision's kind and facts: none of the target's reaches a record.
    assert not [d for d in decisions if "HARMLESS" in json.dumps(d) or d.get("phase") == 9], decisions
    ssots = [line["data"] for line in lines if line["kind"] == "ssot"]
    assert ssots and all(s["path"] != "/tmp/forged.yml" for s in ssots)
    assert "nada a desfazer" in undone.stdout, explain(undone)
