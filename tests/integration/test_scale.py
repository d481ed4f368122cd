"""Many environments in one run (issue 35): every one recorded, under a descriptor limit far below one process, pipe
and lock per environment, and, with the postgresql store, under a connection limit far below one session per
environment. Real ansible-playbook runs, a real PostgreSQL store; the limits are the kernel's and the server's."""

from __future__ import annotations

import json
import os
import resource
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from _support import ROOT, VENV_BIN
from store_server import StoreServer

from ansible_collections.ssot.governance.plugins.module_utils import _chain

HOSTS = 300
NOFILE = 256   # the files store holds ~3 descriptors per environment for the run: 900 would not fit in one writer
SESSIONS = 3   # the postgresql store: one session per writer (2), never one per environment


def project(base: Path) -> Path:
    base.mkdir(parents=True)
    (base / "inventory.ini").write_text("[many]\n" + "".join(
        f"e{i:03d} ansible_connection=local ansible_python_interpreter={sys.executable}\n" for i in range(HOSTS))
        + "\n[many:vars]\nssot_workspace={{ many_ws }}/{{ inventory_hostname }}\n")
    (base / "many.yml").write_text(
        "---\n- name: Many environments\n  hosts: many\n  gather_facts: false\n  tasks:\n"
        "    - name: One fact\n      ansible.builtin.set_fact:\n        seen: \"{{ inventory_hostname }}\"\n"
        "    - name: Another\n      ansible.builtin.debug:\n        msg: \"{{ seen }}\"\n")
    return base


def limited():
    resource.setrlimit(resource.RLIMIT_NOFILE, (NOFILE, NOFILE))


def run(base: Path, ws: Path, **env_extra) -> subprocess.CompletedProcess:
    ws.mkdir()
    for i in range(HOSTS):
        (ws / f"e{i:03d}").mkdir()
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"), ANSIBLE_FORKS="25",
               ANSIBLE_CALLBACKS_ENABLED="ssot.governance.runbook", ANSIBLE_NOCOLOR="1", **env_extra)
    return subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", str(base / "inventory.ini"),
                           str(base / "many.yml"), "-e", f"many_ws={ws}"], env=env, cwd=base, text=True,
                          capture_output=True, timeout=900, preexec_fn=limited, check=False)


def test_hundreds_of_environments_are_all_recorded_in_the_files_store_under_a_low_descriptor_limit(tmp_path):
    base = project(tmp_path / "p")
    ws = tmp_path / "ws"
    proc = run(base, ws, SSOT_STORE="files")
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Too many open files" not in proc.stdout + proc.stderr
    for i in range(HOSTS):
        env = ws / f"e{i:03d}"
        kinds = [json.loads(line)["kind"] for line in (env / _chain.JOURNAL).read_bytes().splitlines()]
        assert kinds.count("result") == 2 and "run_end" in kinds, (env, kinds[-5:])
        assert json.loads((env / "runbook.json").read_text())["runs"][-1]["status"] == "ok"
    for i in (0, HOSTS // 2, HOSTS - 1):
        assert _chain.verify(str(ws / f"e{i:03d}"))["ok"]
    fleet = json.loads((ws / "fleet-panel.json").read_text())
    rows = dict((r["host"], r) for r in fleet["environments"])
    assert len(rows) == HOSTS and rows["e007"]["workspace"] == str(ws / "e007")
    assert rows["e007"]["last_run"]["status"] == "ok" and rows["e007"]["panel"] == "e007/project-panel.html"


@pytest.fixture(scope="module")
def server():
    srv = StoreServer().start()
    yield srv
    srv.stop()


def test_hundreds_of_environments_share_a_few_database_sessions(tmp_path, server):
    db = server.new_database()
    role, password = f"scale_{secrets.token_hex(3)}", secrets.token_urlsafe(12)
    # The recorder's role may open SESSIONS connections at most: one per environment would be refused by the server.
    server.sql(f"CREATE ROLE {role} LOGIN PASSWORD '{password}' CONNECTION LIMIT {SESSIONS}")
    server.sql(f"GRANT ALL ON DATABASE {db} TO {role}; ALTER DATABASE {db} OWNER TO {role}")
    dsn = f"host=127.0.0.1 port={server.port} dbname={db} user={role} password={password}"
    base = project(tmp_path / "p")
    proc = run(base, tmp_path / "ws", SSOT_STORE="postgresql", SSOT_STORE_DSN=dsn)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    ended = server.sql("SELECT count(DISTINCT namespace) FROM ssot_journal WHERE line LIKE '%\"kind\": \"run_end\"%' "
                       "OR line LIKE '%\"kind\":\"run_end\"%'", db)
    assert int(ended) == HOSTS
    results = server.sql("SELECT count(*) FROM ssot_journal WHERE line LIKE '%\"kind\": \"result\"%' "
                         "OR line LIKE '%\"kind\":\"result\"%'", db)
    assert int(results) == 2 * HOSTS
    assert not list((tmp_path / "ws" / "e000").iterdir()), "the database store writes nothing in the folder"
