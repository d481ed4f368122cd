"""The threat model's attackers (docs/security.md), each tried with real ansible-playbook runs against a real legacy
server under a real trust root (signatures and seals required): every attempt is refused with the operator's message
and leaves the server - settings, pg_hba, databases, roles, containers - and the governance files as they were.

Each test names its party (test_<party>_...): the table of docs/security.md points here.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import textwrap
from pathlib import Path

import pytest
import yaml
from _support import (append_approval, docker, explain, free_port, journal_decisions, psql, run_playbook,
                      signed_approval, write_workspace)

from ansible_collections.ssot.governance.plugins.module_utils import _chain, _sshsig

pytestmark = pytest.mark.integration

APPROVAL, SEAL = _sshsig.APPROVAL_NAMESPACE, _sshsig.SEAL_NAMESPACE
ANA = "ana.souza@corp.example"


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    """ana approves, the recorder seals (both in the trust root); mallory is the attacker, in no root."""
    folder = tmp_path_factory.mktemp("keys")
    for name in ("ana", "recorder", "mallory"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(folder / name)],
                       check=True)
    return folder


def pub(keys, name):
    return " ".join((keys / (name + ".pub")).read_text().split()[:2])


def write_root(path: Path, keys, **extra):
    doc = {"allowed_signers": '%s namespaces="%s" %s\nrecorder@corp.example namespaces="%s" %s\n' % (
        ANA, APPROVAL, pub(keys, "ana"), SEAL, pub(keys, "recorder")), "require_signatures": True,
        "require_seals": True}
    doc.update(extra)
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


class Governed:
    """One environment ("prod") governed under the trust root, its server provisioned once."""

    def __init__(self, base: Path, keys: Path, ws, root: Path):
        self.base, self.keys, self.ws, self.root = base, keys, ws, root
        self.path = ws.path
        self.container = ws.container
        self.backup = base / "prod.backup"

    def env(self, **extra):
        env = {"SSOT_TRUST_ROOT": str(self.root), "SSOT_SEAL_KEY": str(self.keys / "recorder"),
               "SSOT_NONINTERACTIVE": "1"}
        env.update(extra)
        return env

    def play(self, name, *args, env=None, **kw):
        return run_playbook("ssot.governance." + name, self.ws, extra_args=args, env_extra=self.env(**(env or {})),
                            **kw)

    def decision(self, prefix):
        found = [d for d in journal_decisions(self.path, prefix) if d.get("status") == "pending"]
        assert found, f"no pending {prefix} decision in the journal"
        return found[-1]

    def approve(self, decision, option, who="ana", principal=ANA, **change):
        entry = signed_approval(decision, self.keys / who, principal, option, **change)
        append_approval(self.path, entry)
        return entry

    def forge(self, kind, data):
        """Append a line whose chain holds (no key is needed for that) - what anyone who can write the journal can do."""
        lines = (self.path / "journal.jsonl").read_text().splitlines()
        last = json.loads(lines[-1])
        line = {"seq": last["seq"] + 1, "ts": last["ts"], "run": last["run"], "kind": kind, "data": data,
                "prev": last["hash"]}
        if "env" in last:
            line["env"] = last["env"]  # the environment's identity: anyone who reads the journal has it
        line["hash"] = hashlib.sha256(_chain.canonical(line).encode("utf-8")).hexdigest()
        with open(self.path / "journal.jsonl", "a") as fh:
            fh.write(json.dumps(line, separators=(",", ":")) + "\n")

    def server(self):
        """What must not change: settings, pg_hba, databases, roles, the containers of this environment."""
        return {"work_mem": psql(self.container, "SHOW work_mem"),
                "hba": psql(self.container, "SELECT md5(pg_read_file(current_setting('hba_file')))"),
                "auto_conf": psql(self.container, "SELECT md5(pg_read_file('postgresql.auto.conf'))"),
                "databases": psql(self.container, "SELECT string_agg(datname, ',' ORDER BY datname) FROM pg_database"),
                "roles": psql(self.container, "SELECT string_agg(rolname || rolsuper::text, ',' ORDER BY rolname) "
                                              "FROM pg_roles"),
                "containers": sorted(docker("ps", "-a", "--format", "{{.ID}} {{.Names}} {{.Image}} {{.State}}", "--filter",
                                            f"name={self.container}").stdout.split("\n"))}

    def governance(self):
        """The files governance reads, and anything a change would create in the workspace."""
        out = {}
        for rel in ("ssot.yml", "approvals.yml", "allowed_signers"):
            p = self.path / rel
            out[rel] = p.read_bytes() if p.exists() else None
        out["snapshots"] = sorted(p.name for p in (self.path / "snapshots").glob("*")) \
            if (self.path / "snapshots").exists() else []
        return out


@pytest.fixture(scope="module")
def governed(legacy_image, container_names, tmp_path_factory, keys):
    base = tmp_path_factory.mktemp("security")
    name = f"ssot-it-sec-{base.name[-6:]}"
    container_names.append(name)
    root = write_root(tmp_path_factory.mktemp("root") / "trust.yml", keys)

    def edit(doc):
        doc["postgres"]["settings"]["work_mem"] = "8MB"
    (base / "prod").mkdir()
    ws = write_workspace(base / "prod", legacy_image, name, free_port(), edit)
    g = Governed(base, keys, ws, root)
    proc = g.play("provision")
    assert proc.returncode == 0, explain(proc)
    # The validation raises the work_mem decision (pending) and seals its run: what an approver is shown.
    proc = g.play("validate")
    assert proc.returncode != 0 and "validate.setting.work_mem." in proc.stdout, explain(proc)
    shutil.copytree(g.path, g.backup, symlinks=True)
    g.hba = psql(name, "SELECT pg_read_file(current_setting('hba_file'))")
    return g


@pytest.fixture
def g(governed):
    """The environment as the fixture left it: workspace restored, server settings and pg_hba back."""
    shutil.rmtree(governed.path)
    shutil.copytree(governed.backup, governed.path, symlinks=True)
    psql(governed.container, "ALTER SYSTEM RESET ALL")
    psql(governed.container, "SELECT pg_reload_conf()")
    before = governed.server()
    assert before["work_mem"] == "4MB"
    governed.before = before
    governed.files_before = governed.governance()
    return governed


def unchanged(g, proc, *words):
    """The run was refused (never a traceback), the server and the governance files are as they were."""
    text = proc.stdout + proc.stderr
    assert proc.returncode not in (0, 250), explain(proc)
    assert "Traceback" not in text and "Unexpected Exception" not in text, explain(proc)
    for word in words:
        assert word in text, f"{word!r} not in the output\n{explain(proc)}"
    assert g.server() == g.before
    assert g.governance() == g.files_before


# --- 1. the launcher ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("ssot_file", ["../dev/ssot.yml", "/tmp/ssot-outside.yml", "link.yml", "sub/../../dev/ssot.yml"])
def test_launcher_cannot_pick_the_rules_with_ssot_file(g, ssot_file):
    """A sibling environment's SSOT (extra_var_approvals, no signatures asked) plus an unsigned launcher approval."""
    dev = g.base / "dev"
    dev.mkdir(exist_ok=True)
    doc = yaml.safe_load((g.path / "ssot.yml").read_text())
    doc["hitl"].update(extra_var_approvals=True, require_signatures=False)
    for where in (dev / "ssot.yml", Path("/tmp/ssot-outside.yml")):
        where.write_text(yaml.safe_dump(doc))
    if ssot_file == "link.yml":
        (g.path / "link.yml").symlink_to(dev / "ssot.yml")
        g.files_before = g.governance()
    decision = g.decision("validate.setting.work_mem.")
    approval = {"decision": decision["id"], "option": "fix", "approved_by": ANA, "reason": "-e",
                "approved_at": "2026-01-01T00:00:00Z", "ssot_digest": decision["ssot_digest"]}
    proc = g.play("modify", "--tags", "modify", "-e", f"ssot_file={ssot_file}",
                  "-e", json.dumps({"ssot_approvals": [approval]}))
    unchanged(g, proc, "ssot_file=")


@pytest.mark.parametrize("args", [
    ["--start-at-task", "Change - settings to the SSOT (detect, decide, plan, rollback data, ALTER SYSTEM, reload or "
                        "restart, verify)"],
    ["--step"],
    ["--tags", "modify", "--skip-tags", "always"],
])
def test_launcher_cannot_step_around_the_gate(g, args):
    proc = g.play("modify", "--tags", "modify", *args)
    unchanged(g, proc)


def test_launcher_without_a_trust_root_changes_nothing(g):
    g.approve(g.decision("validate.setting.work_mem."), "fix")
    g.files_before = g.governance()
    proc = g.play("modify", "--tags", "modify", env={"SSOT_TRUST_ROOT": str(g.base / "nowhere.yml")})
    unchanged(g, proc, "raiz de confiança")


def test_launcher_a_root_inside_the_workspace_is_refused(g):
    g.approve(g.decision("validate.setting.work_mem."), "fix")
    inside = write_root(g.path / "trust.yml", g.keys)
    g.files_before = g.governance()
    proc = g.play("modify", "--tags", "modify", env={"SSOT_TRUST_ROOT": str(inside)})
    unchanged(g, proc, "dentro do workspace")


@pytest.mark.parametrize("how", ["interpreter", "template-hosts", "template-workspace", "connection"])
def test_launcher_cannot_choose_the_code_that_runs(g, how):
    """An extra var outranks the inventory: a launcher (-e, a survey, runner's extravars) choosing the interpreter or
    the connection, or templating an input (evaluated on the controller, even in a play's hosts:), is refused before
    anything is templated or run."""
    g.approve(g.decision("validate.setting.work_mem."), "fix")
    g.files_before = g.governance()
    marker = g.base / f"ran-{how}"
    evil = g.base / "evil-python"
    evil.write_text(f"#!/bin/sh\ntouch {g.base}/ran-interpreter\nexec /usr/bin/python3 \"$@\"\n")
    evil.chmod(0o755)
    touch = "{{ lookup('ansible.builtin.pipe', 'touch %s') }}" % marker
    extra = {"interpreter": {"ansible_python_interpreter": str(evil)},
             "template-hosts": {"ssot_hosts": touch},
             "template-workspace": {"ssot_workspace": str(g.path) + touch},
             "connection": {"ansible_connection": "ssh"}}[how]
    proc = g.play("modify", "--tags", "modify", "-e", json.dumps(extra))
    unchanged(g, proc, sorted(extra)[0])
    assert not marker.exists(), "the launcher's code ran"


def test_launcher_a_root_others_can_rewrite_is_refused(g):
    g.approve(g.decision("validate.setting.work_mem."), "fix")
    g.files_before = g.governance()
    (g.base / "loose").mkdir(exist_ok=True)
    loose = write_root(g.base / "loose" / "trust.yml", g.keys)
    loose.chmod(0o666)
    proc = g.play("modify", "--tags", "modify", env={"SSOT_TRUST_ROOT": str(loose)})
    unchanged(g, proc, "chmod go-w")


# --- 2. the inventory author ---------------------------------------------------------------------------------------
def hostile_inventory(g, **host_vars):
    inv = g.base / "inventory"
    (inv / "host_vars").mkdir(parents=True, exist_ok=True)
    (inv / "hosts.ini").write_text("[ssot_targets]\nlocalhost ansible_connection=local "
                                   "ansible_python_interpreter=\"{{ ansible_playbook_python }}\"\n")
    (inv / "host_vars" / "localhost.yml").write_text(yaml.safe_dump(host_vars))
    return str(inv / "hosts.ini")


def test_inventory_host_vars_cannot_open_the_gate_nor_say_what_changes(g):
    decision = g.decision("validate.setting.work_mem.")
    forged_plan = [{"name": "work_mem", "action": "set", "current": "4MB", "target": "64MB", "restart": False,
                    "decision": decision["id"]}]
    inventory = hostile_inventory(
        g, ssot_require_recorder=False, __modify_plan=forged_plan, hitl_gate_proceed=[decision["id"]],
        hitl_gate_result={"pending": [], "proceed": [decision["id"]]},
        ssot_doc={"postgres": {"settings": {"work_mem": "64MB"}}}, ssot_hitl={"require_signatures": False},
        ssot_pg_port=1, expose_host_method="trust", ssot_approvals=[{"decision": decision["id"]}])
    proc = g.play("modify", "-i", inventory, "--tags", "modify")
    unchanged(g, proc, decision["id"])
    # With a real approval the change applies what the SSOT says (8MB), never what a variable says (64MB).
    g.approve(decision, "fix")
    proc = g.play("modify", "-i", inventory, "--tags", "modify")
    assert proc.returncode == 0, explain(proc)
    assert psql(g.container, "SHOW work_mem") == "8MB"


# --- 3. the infra-repo author ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("callbacks", ["ansible.posix.profile_tasks", "ansible.posix.timer,ansible.posix.profile_tasks"])
def test_repo_without_the_recorder_no_change_and_no_traceback(g, callbacks):
    g.approve(g.decision("validate.setting.work_mem."), "fix")
    g.files_before = g.governance()
    journal = (g.path / "journal.jsonl").read_bytes()
    proc = g.play("modify", "--tags", "modify", env={"ANSIBLE_CALLBACKS_ENABLED": callbacks})
    unchanged(g, proc, "não está sendo registrado")
    assert (g.path / "journal.jsonl").read_bytes() == journal


def test_repo_an_empty_callback_list_stops_ansible_before_anything_runs(g):
    """ANSIBLE_CALLBACKS_ENABLED= (empty): ansible-core's own callback loader refuses the empty name before any play
    is read (a core defect, outside this collection's reach - docs/security.md). Nothing of the run happens."""
    g.approve(g.decision("validate.setting.work_mem."), "fix")
    g.files_before = g.governance()
    journal = (g.path / "journal.jsonl").read_bytes()
    proc = g.play("modify", "--tags", "modify", env={"ANSIBLE_CALLBACKS_ENABLED": ""})
    assert proc.returncode != 0 and "A non-empty plugin name is required" in proc.stdout + proc.stderr, explain(proc)
    assert "TASK [" not in proc.stdout
    assert g.server() == g.before and g.governance() == g.files_before
    assert (g.path / "journal.jsonl").read_bytes() == journal


def test_repo_a_wrapper_cannot_switch_recording_off(g):
    g.approve(g.decision("validate.setting.work_mem."), "fix")
    g.files_before = g.governance()
    wrapper = g.base / "wrapper.yml"
    wrapper.write_text("- ansible.builtin.import_playbook: ssot.governance.modify\n  vars:\n    ssot_recorder: export\n"
                       "    ssot_require_recorder: false\n")
    proc = run_playbook(str(wrapper), g.ws, extra_args=["--tags", "modify"], env_extra=g.env())
    assert proc.returncode == 0, explain(proc)
    # The change happened - recorded, sealed, as any other.
    lines = [json.loads(x) for x in (g.path / "journal.jsonl").read_text().splitlines()]
    assert any(line["kind"] == "rollback" and line["data"]["subject"] == "settings" for line in lines)
    assert lines[-1]["kind"] == "seal" and psql(g.container, "SHOW work_mem") == "8MB"


def test_repo_an_export_task_beside_a_change_stops_the_change(g):
    g.approve(g.decision("validate.setting.work_mem."), "fix")
    g.files_before = g.governance()
    mixed = g.base / "mixed.yml"
    mixed.write_text(textwrap.dedent("""\
        - name: An export play that also changes
          hosts: localhost
          gather_facts: false
          tasks:
            - name: Export
              ssot.governance.export:
                workspace: "{{ ssot_workspace }}"
              ignore_errors: true
            - name: Change
              ssot.governance.change:
                kind: settings
        """))
    proc = run_playbook(str(mixed), g.ws, env_extra=g.env())
    unchanged(g, proc, "não está sendo registrado")


# --- 4. whoever writes the workspace ---------------------------------------------------------------------------------
def test_workspace_a_forged_rollback_line_drives_no_rollback(g):
    g.forge("rollback", {"subject": "settings", "event": "point", "step": "x", "host": "localhost", "data": {
        "container": g.container, "settings": [{"name": "work_mem", "current": "64MB", "rollback": "set",
                                                "restart": False, "context": "user"}]}})
    g.forge("rollback", {"subject": "pg_hba", "event": "point", "step": "x", "host": "localhost", "data": {
        "path": "/tmp/owned-by-the-journal", "content": "host all all 0.0.0.0/0 trust\n"}})
    g.files_before = g.governance()
    for tags in ("rollback", "rollback_pg_hba"):
        proc = g.play("modify", "--tags", tags)
        unchanged(g, proc, "journal")
        assert not docker("exec", g.container, "ls", "/tmp/owned-by-the-journal", check=False).returncode == 0
    # In check mode too.
    proc = g.play("modify", "--tags", "rollback_pg_hba", "-C")
    assert g.server() == g.before, explain(proc)


def test_workspace_a_key_added_to_the_ssots_signers_cannot_approve(g):
    """The SSOT may name a signers file of the workspace: it only narrows the root, never adds a signer."""
    (g.path / "allowed_signers").write_text('%s namespaces="%s" %s\n' % (ANA, APPROVAL, pub(g.keys, "mallory")))
    doc = yaml.safe_load((g.path / "ssot.yml").read_text())
    doc["hitl"]["allowed_signers"] = "allowed_signers"
    (g.path / "ssot.yml").write_text(yaml.safe_dump(doc))
    g.play("validate")   # the decision under the new digest, sealed
    g.approve(g.decision("validate.setting.work_mem."), "fix", who="mallory")
    g.files_before = g.governance()
    proc = g.play("modify", "--tags", "modify")
    unchanged(g, proc, "não vale")


@pytest.mark.parametrize("hitl", [{"require_signatures": False}, {"require_signatures": False, "require_seals": False,
                                                                  "extra_var_approvals": True}])
def test_workspace_the_ssot_cannot_turn_signatures_off(g, hitl):
    doc = yaml.safe_load((g.path / "ssot.yml").read_text())
    doc["hitl"].update(hitl)
    (g.path / "ssot.yml").write_text(yaml.safe_dump(doc))
    g.play("validate")
    decision = g.decision("validate.setting.work_mem.")
    entry = {"decision": decision["id"], "option": "fix", "approved_by": ANA, "reason": "sem assinatura",
             "approved_at": decision["raised_at"] if "raised_at" in decision else "2026-12-01T00:00:00Z",
             "ssot_digest": decision["ssot_digest"]}
    (g.path / "approvals.yml").write_text(yaml.safe_dump({"approvals": [entry]}))
    g.files_before = g.governance()
    proc = g.play("modify", "--tags", "modify", "-e", json.dumps({"ssot_approvals": [entry]}))
    unchanged(g, proc, "assinad")


def test_workspace_a_decision_line_forged_after_the_seal_is_not_what_gets_approved(g):
    """A forged, chain-valid decision line (the real id, other facts: 48MB) is never shown by the approve playbook
    (not sealed by its own run); an approval signed over its card does not count for the real decision, and the
    refusal is recorded."""
    real = g.decision("validate.setting.work_mem.")
    forged = json.loads(json.dumps(real))
    forged["facts"]["expected"] = "48MB"
    g.forge("decision", forged)
    entry = g.approve(forged, "fix")
    assert entry["card"] != signed_approval(real, g.keys / "ana", ANA, "fix")["card"]
    g.files_before = g.governance()
    proc = g.play("modify", "--tags", "modify")
    unchanged(g, proc, "outro cartão")
    assert "NÃO FICOU TODA REGISTRADA" not in proc.stderr
    recorded = [d for d in journal_decisions(g.path, real["id"]) if d.get("refusals")]
    assert recorded and "outro cartão" in recorded[-1]["refusals"][0]


# --- 5. the records database ------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def store():
    from store_server import StoreServer
    server = StoreServer().start()
    yield server
    server.stop()


def test_store_a_forged_row_drives_no_rollback_and_export_writes_records_only(g, store):
    """The same environment with its records in a PostgreSQL database (as under AWX): a row inserted into
    ssot_journal - a rollback point, its hash not even a hash - restores nothing; rows naming governance files are
    never exported."""
    import psycopg2
    dsn = store.dsn(store.new_database())
    env = {"SSOT_STORE": "postgresql", "SSOT_STORE_DSN": dsn}
    proc = g.play("validate", env=env)
    assert "validate.setting.work_mem." in proc.stdout, explain(proc)
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT max(seq) FROM ssot_journal WHERE namespace = 'prod'")
        seq = cur.fetchone()[0] + 1
        line = {"seq": seq, "ts": "2026-12-06T00:00:00Z", "run": "x", "kind": "rollback", "prev": "0" * 64,
                "hash": "not-a-hash", "data": {"subject": "settings", "event": "point", "data": {
                    "container": g.container, "settings": [{"name": "work_mem", "current": "64MB", "rollback": "set",
                                                            "context": "user"}]}}}
        cur.execute("INSERT INTO ssot_journal (namespace, seq, line) VALUES ('prod', %s, %s)", (seq, json.dumps(line)))
        for rel, content in (("approvals.yml", b"approvals: []\n# forged\n"),
                             ("allowed_signers", b"* ssh-ed25519 AAAA\n"), ("ssot.yml", b"forged: true\n")):
            cur.execute("INSERT INTO ssot_file (namespace, path, content, sha256) VALUES ('prod', %s, %s, %s)",
                        (rel, content, hashlib.sha256(content).hexdigest()))
    proc = g.play("modify", "--tags", "rollback", env=env)
    # The row does not even chain: the run is refused before anything runs, naming the row (verify's words).
    unchanged(g, proc, "journal_altered em ssot_journal namespace=prod seq=%d" % seq)
    exported = g.base / "exported"
    proc = run_playbook("ssot.governance.export", g.ws, extra_args=["-e", f"export_dest={exported}"],
                        env_extra=g.env(**env))
    assert proc.returncode == 0, explain(proc)
    assert (exported / "journal.jsonl").exists() and (exported / "runbook.json").exists()
    for rel in ("approvals.yml", "allowed_signers", "ssot.yml"):
        assert not (exported / rel).exists(), rel
    assert "allowed_signers" in proc.stdout and "Não escritos" in proc.stdout, explain(proc)


# --- 6. a target host: see test_fleet.py (a real sshd host whose Python is hostile) -----------------------------------
# --- 7. the MCP client ----------------------------------------------------------------------------------------------
def test_draft_the_assistants_draft_never_counts(g, monkeypatch):
    from ansible_collections.ssot.governance.plugins.plugin_utils import _agent
    monkeypatch.setenv("SSOT_TRUST_ROOT", str(g.root))
    decision = g.decision("validate.setting.work_mem.")
    draft = _agent.Environment("prod", g.path).draft(decision["id"], "fix")["entry"]
    (g.path / "approvals.yml").write_text(draft)
    # Even filled in by someone who did not sign it, and with the draft mark removed.
    (g.base / "filled.yml").write_text(draft.replace("<nome de quem aprova>", ANA).replace("    draft: true\n", ""))
    g.files_before = g.governance()
    proc = g.play("modify", "--tags", "modify")
    unchanged(g, proc, "rascunho")
    (g.path / "approvals.yml").write_text((g.base / "filled.yml").read_text())
    g.files_before = g.governance()
    proc = g.play("modify", "--tags", "modify")
    unchanged(g, proc)


# --- 8. the operator ---------------------------------------------------------------------------------------------
def test_operator_separation_of_duties_needs_the_accounts(g, tmp_path):
    doc = yaml.safe_load((g.path / "ssot.yml").read_text())
    doc["hitl"]["separation_of_duties"] = True
    (g.path / "ssot.yml").write_text(yaml.safe_dump(doc))
    g.play("validate")
    g.approve(g.decision("validate.setting.work_mem."), "fix")
    g.files_before = g.governance()
    # No mapping: who ana is cannot be told, nothing counts.
    proc = g.play("modify", "--tags", "modify")
    unchanged(g, proc, "quais contas")
    # The mapping says ana is the account running this suite: her own change does not count.
    mine = write_root(tmp_path / "trust.yml", g.keys, accounts={ANA: ["root", "ana"]})
    proc = g.play("modify", "--tags", "modify", env={"SSOT_TRUST_ROOT": str(mine)})
    unchanged(g, proc, "separação de funções")
    other = write_root(tmp_path / "other.yml", g.keys, accounts={ANA: ["ana"]})
    proc = g.play("modify", "--tags", "modify", env={"SSOT_TRUST_ROOT": str(other)})
    assert proc.returncode == 0 and psql(g.container, "SHOW work_mem") == "8MB", explain(proc)


# --- 9. an approver ------------------------------------------------------------------------------------------------
def test_approver_an_approval_for_another_environment_does_not_count(g):
    """A byte-identical SSOT in another workspace ("dev"): its signed approval never opens prod's gate."""
    decision = g.decision("validate.setting.work_mem.")
    g.approve(decision, "fix", environment="dev")
    g.files_before = g.governance()
    proc = g.play("modify", "--tags", "modify")
    unchanged(g, proc, "ambiente dev")


@pytest.mark.parametrize("principal, who", [("*", "mallory"), ("*@corp.example", "mallory"),
                                            ("ana.souza@corp.example,!x", "mallory")])
def test_approver_pattern_principals_never_approve(g, tmp_path, principal, who):
    root = tmp_path / "trust.yml"
    text = yaml.safe_load(write_root(root, g.keys).read_text())
    text["allowed_signers"] += '%s namespaces="%s" %s\n' % (principal, APPROVAL, pub(g.keys, who))
    root.write_text(yaml.safe_dump(text))
    g.approve(g.decision("validate.setting.work_mem."), "fix", who=who)
    g.files_before = g.governance()
    proc = g.play("modify", "--tags", "modify", env={"SSOT_TRUST_ROOT": str(root)})
    unchanged(g, proc, "linha 3")


def test_workspace_a_copy_elsewhere_does_not_act_on_the_environments_container(g):
    """The whole workspace - SSOT, sealed journal, a valid signed approval - copied to another folder of the same
    name: the copy is another environment, and the container it names is not its own."""
    g.approve(g.decision("validate.setting.work_mem."), "fix")
    g.files_before = g.governance()
    copy = g.base / "elsewhere" / g.path.name
    if copy.exists():
        shutil.rmtree(copy)
    shutil.copytree(g.path, copy, symlinks=True)
    proc = run_playbook("ssot.governance.modify", copy, extra_args=["--tags", "modify"], env_extra=g.env())
    unchanged(g, proc, "não é deste ambiente")


# --- rollback is a change --------------------------------------------------------------------------------------------
def test_rollback_is_a_change_its_own_decision_then_it_restores(g):
    g.approve(g.decision("validate.setting.work_mem."), "fix")
    proc = g.play("modify", "--tags", "modify")
    assert proc.returncode == 0 and psql(g.container, "SHOW work_mem") == "8MB", explain(proc)
    g.before = g.server()
    g.files_before = g.governance()
    proc = g.play("modify", "--tags", "rollback")
    unchanged(g, proc, "rollback.settings.")
    decision = g.decision("rollback.settings.")
    assert decision["facts"]["restore"] == [{"name": "work_mem", "to": "RESET"}]
    g.approve(decision, "rollback")
    proc = g.play("modify", "--tags", "rollback")
    assert proc.returncode == 0 and psql(g.container, "SHOW work_mem") == "4MB", explain(proc)


# --- check mode changes nothing --------------------------------------------------------------------------------------
@pytest.mark.parametrize("playbook, tags", [
    ("modify", "modify"), ("modify", "rollback"), ("modify", "rollback_pg_hba"), ("modify", "modify_exposure"),
    ("modify", "rollback_exposure"), ("ingest", "ingest"), ("ingest", "rollback"), ("provision", None),
    ("validate", None), ("snapshot", None), ("verify", None)])
def test_check_mode_changes_nothing(g, playbook, tags):
    g.approve(g.decision("validate.setting.work_mem."), "fix")
    g.files_before = g.governance()
    proc = g.play(playbook, "-C", *(["--tags", tags] if tags else []))
    assert "Traceback" not in proc.stdout + proc.stderr, explain(proc)
    if playbook in ("snapshot", "verify"):
        assert proc.returncode == 0, explain(proc)
    assert g.server() == g.before, explain(proc)
    assert g.governance() == g.files_before, explain(proc)
