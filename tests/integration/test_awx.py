"""The AWX way, end to end: an ansible-runner private data directory laid out as AWX lays out a job (project/,
inventory/, env/extravars, env/envvars, env/ssh_key, no terminal), the example AWX project (examples/awx) with its
ansible.cfg choosing the postgresql store, a target reached over SSH, the store on a real PostgreSQL 15.

validate records the deviation in the database; modify without an approval fails closed and changes nothing; modify
with the approval in extravars (as a workflow's approval node passes it) applies and verifies; export writes the
workspace from the database; verify passes, in the database and on the exported folder (docs/awx.md)."""

from __future__ import annotations

import datetime
import json
import os
import shutil
import subprocess
from pathlib import Path

import build_pg_image
import psycopg2
import pytest
import yaml
from _fleet import Fleet, ssot_of
from _support import CACHE, PASSWORD, ROOT, UNSIGNED_ROOT, VENV_BIN, psql
from store_server import StoreServer

pytestmark = pytest.mark.integration

AWX_PROJECT = ROOT / "examples" / "awx"


@pytest.fixture(scope="module")
def fleet(docker_engine, tmp_path_factory, container_names):
    images = {"pg-15": build_pg_image.build("pg-15", CACHE)}

    def containers():
        name = f"ssot-awx-{os.urandom(4).hex()}"
        container_names.append(name)
        return name
    f = Fleet(tmp_path_factory.mktemp("awx"), ("pg-15",), images, containers)
    yield f
    f.close()


@pytest.fixture(scope="module")
def store():
    server = StoreServer().start()
    yield server
    server.stop()


class Job:
    """One private data directory per job, as AWX writes it for a job template launch."""

    def __init__(self, base: Path, fleet: Fleet, dsn: str):
        self.base, self.fleet, self.dsn = base, fleet, dsn
        self.host = fleet.hosts[0]
        self.project = base / "project-checkout"      # the project, synced once (AWX copies it into each job)
        shutil.copytree(AWX_PROJECT, self.project)
        env = self.project / "envs" / self.host.name
        shutil.copytree(self.host.workspace, env, ignore=shutil.ignore_patterns("ansible.cfg", "inventory.ini"))
        self.jobs = 0

    @property
    def workspace(self) -> Path:
        return self.project / "envs" / self.host.name

    def run(self, playbook: str, tags: str | None = None, extravars: dict | None = None, envvars: dict | None = None):
        self.jobs += 1
        data = self.base / f"job-{self.jobs}"
        # AWX: the project's files in project/, the inventory it generated, the launch's extra vars and the
        # credentials' environment and SSH key under env/.
        (data / "inventory").mkdir(parents=True)
        (data / "env").mkdir()
        os.symlink(self.project, data / "project")
        h = self.host
        (data / "inventory" / "hosts").write_text("\n".join([
            "[ssot_targets]", f"{h.name} ansible_host=127.0.0.1 ansible_port={h.ssh_port}", "",
            # As examples/awx/inventory/hosts.yml: the workspace relative to the project root, where the job runs.
            "[ssot_targets:vars]", "ssot_workspace=envs/{{ inventory_hostname }}", "ansible_user=root",
            "ansible_python_interpreter=/usr/bin/python3",
            "ansible_ssh_common_args='-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null'", ""]))
        (data / "env" / "extravars").write_text(yaml.safe_dump(dict({"awx_user_name": "operador"},
                                                                    **(extravars or {}))))
        env = {
            # The custom credential "ssot.governance records store": the superuser password and the store's DSN; the
            # administrators' trust root credential (here: plain approvals count, docs/awx.md).
            "SSOT_PG_PASSWORD": PASSWORD, "SSOT_STORE_DSN": self.dsn, "SSOT_TRUST_ROOT": str(UNSIGNED_ROOT),
            # AWX's job environment: the collections the project sync installed (here the repo's own link).
            "ANSIBLE_COLLECTIONS_PATH": str(ROOT / ".collections"), "PATH": f"{VENV_BIN}:{os.environ['PATH']}",
            "ANSIBLE_NOCOLOR": "1",
        }
        env.update(envvars or {})
        (data / "env" / "envvars").write_text(yaml.safe_dump(env))
        (data / "env" / "ssh_key").write_text((self.fleet.keys / "id").read_text())
        (data / "env" / "cmdline").write_text(f"--tags {tags}" if tags else "")
        import ansible_runner
        r = ansible_runner.run(private_data_dir=str(data), playbook=playbook, quiet=True, timeout=600)
        out = r.stdout.read()
        assert r.status != "timeout", "a job without a terminal must never wait\n" + out[-3000:]
        return r.rc, out

    def sql(self, query, args=None):
        with psycopg2.connect(self.dsn) as conn, conn.cursor() as cur:
            cur.execute(query, args)
            return cur.fetchall()

    def stored_view(self, name: str) -> dict:
        return json.loads(bytes(self.sql("SELECT content FROM ssot_file WHERE namespace = %s AND path = %s",
                                         (self.host.name, name))[0][0]))


def test_validate_modify_with_the_approval_node_export_and_verify_the_awx_way(fleet, store, tmp_path):
    job = Job(tmp_path, fleet, store.dsn(store.new_database()))
    host = job.host
    doc = ssot_of(host)
    doc["hitl"]["extra_var_approvals"] = True   # only approvers may launch the modify template (docs/hitl.md)
    (job.workspace / "ssot.yml").write_text(yaml.safe_dump(doc, sort_keys=False))

    # Without the recorder the ssot role refuses (no variable can turn that off), and says where AWX enables it.
    (tmp_path / "bare.cfg").write_text("[defaults]\nretry_files_enabled = false\n")  # a project without it
    rc, out = job.run("validate.yml", envvars={"ANSIBLE_CONFIG": str(tmp_path / "bare.cfg")})
    assert rc != 0 and "ansible.cfg da raiz do projeto" in out and "docs/awx.md" in out, out[-3000:]

    rc, out = job.run("provision.yml")
    assert rc == 0, out[-4000:]
    assert psql(host.container, "SHOW work_mem") == "4MB"
    assert not (job.workspace / "journal.jsonl").exists(), "records go to the database, not the pod's disk"

    doc["postgres"]["settings"]["work_mem"] = "8MB"
    (job.workspace / "ssot.yml").write_text(yaml.safe_dump(doc, sort_keys=False))
    rc, out = job.run("validate.yml")
    assert rc != 0, out[-4000:]
    panel = job.stored_view("project-panel.json")
    assert any("work_mem" in d["id"] for d in panel["deviations"]), panel["deviations"]
    decision = next(d for d in job.stored_view("runbook.json")["decisions"]
                    if "work_mem" in d["id"] and d["status"] == "pending")

    rc, out = job.run("modify.yml", tags="modify_settings")
    assert rc != 0 and decision["id"] in out, out[-4000:]
    assert psql(host.container, "SHOW work_mem") == "4MB", "fails closed: nothing changed"

    approval = {"decision": decision["id"], "option": "fix", "approved_by": "Ana Souza (DBA)",
                "approved_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "reason": "aprovado no nó de aprovação do workflow", "ssot_digest": decision["ssot_digest"]}
    rc, out = job.run("modify.yml", tags="modify_settings", extravars={"ssot_approvals": [approval]})
    assert rc == 0, out[-4000:]
    assert psql(host.container, "SHOW work_mem") == "8MB"

    rc, out = job.run("export.yml")
    assert rc == 0 and f"Registros de {host.name} exportados" in out, out[-3000:]
    runbook = json.loads((job.workspace / "runbook.json").read_text())
    assert [r["playbook"] for r in runbook["runs"]] == ["provision.yml", "validate.yml", "modify.yml", "modify.yml"]
    assert next(d for d in runbook["decisions"] if d["id"] == decision["id"])["status"] != "pending"
    assert list(job.workspace.glob("evidence/*/*-rollback-settings.json"))

    rc, out = job.run("verify.yml")
    assert rc == 0 and "Registros íntegros" in out, out[-3000:]
    # The exported folder is a workspace like any other: verify with the files store re-hashes it.
    files = subprocess.run([str(VENV_BIN / "ansible-playbook"), "ssot.governance.verify", "-e",
                            f"ssot_workspace={job.workspace}"], cwd=tmp_path, text=True, capture_output=True,
                           env=dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"),
                                    SSOT_STORE="files"), stdin=subprocess.DEVNULL, check=False)
    assert files.returncode == 0, files.stdout[-3000:]
    for path in job.workspace.rglob("*"):
        if path.is_file() and path.suffix != ".tar":
            assert PASSWORD not in path.read_text(errors="replace"), path
