"""kill -9 of ansible-playbook in the middle of a change, on real servers: what it started stops with it, and the
next run names what was interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest
from _support import (IMAGE, VENV_BIN, docker, explain, free_port, playbook_env, psql, run_playbook, start_server,
                      views, write_approvals, write_workspace)

pytestmark = pytest.mark.integration


def top(container: str) -> str:
    return docker("top", container, check=False).stdout


def local_clients(container: str) -> list[str]:
    out = subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True, check=False).stdout
    return [line for line in out.splitlines() if "docker exec" in line and container in line]


def test_kill_9_during_a_load_stops_pg_dump_and_pg_restore_and_the_next_run_names_it(legacy_image, container_names,
                                                                                     tmp_path):
    tag = tmp_path.name[-6:]
    target, source = f"ssot-it-kill-{tag}", f"ssot-it-kill-src-{tag}"
    container_names += [target, source]

    def edit(doc):
        doc["sources"][0]["container"] = source
        doc["ingest"] = dict(doc.get("ingest") or {}, pre_snapshot=False, checksums=False)
    ws = write_workspace(tmp_path / "ws", legacy_image, target, free_port(), edit)
    assert run_playbook("ssot.governance.provision", ws).returncode == 0
    start_server(IMAGE, source)
    psql(source, "CREATE DATABASE legacy_shop")
    # Big enough that the load takes several seconds: the kill lands while pg_restore runs.
    psql(source, "CREATE TABLE big AS SELECT g AS id, md5(g::text) AS t, repeat(md5(g::text), 6) AS pad "
                 "FROM generate_series(1, 1500000) g", db="legacy_shop")
    unapproved = run_playbook("ssot.governance.ingest", ws, extra_args=["--tags", "ingest"])
    assert unapproved.returncode != 0
    runbook, dummy = views(ws)
    write_approvals(ws, [d for d in runbook["decisions"] if d["status"] == "pending"
                         and d["id"].startswith("ingest.")], "ingest")

    proc = subprocess.Popen([str(VENV_BIN / "ansible-playbook"), "ssot.governance.ingest", "-e",
                             f"ssot_workspace={ws.path}", "--tags", "ingest"], cwd=ws.path, env=playbook_env(ws.path),
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        deadline = time.time() + 180
        # The load's pg_restore (the sources step asks pg_restore --version too, for a moment).
        while time.time() < deadline and "pg_restore --no-owner" not in top(target):
            assert proc.poll() is None, "the load ended before it could be interrupted"
            time.sleep(0.2)
        assert "pg_restore --no-owner" in top(target), "pg_restore never started"
        os.kill(proc.pid, signal.SIGKILL)   # ansible-playbook itself, outright; its workers are left alone
        proc.wait()
        deadline = time.time() + 20
        while time.time() < deadline and ("pg_restore" in top(target) or "pg_dump" in top(source)
                                          or local_clients(target) or local_clients(source)):
            time.sleep(0.5)
        assert "pg_restore" not in top(target), top(target)
        assert "pg_dump" not in top(source), top(source)
        assert not local_clients(target) and not local_clients(source)
        # Stopped, not finished unrecorded: the table the load was copying is not complete in the target.
        done = docker("exec", target, "psql", "-U", "postgres", "-d", "legacy_shop", "-Atc",
                      "SELECT count(*) FROM big", check=False)
        assert done.returncode != 0 or int(done.stdout.strip() or 0) < 1500000, done.stdout
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    # The next run (read-only) names the interrupted run and the step it died in.
    nxt = run_playbook("ssot.governance.ingest", ws)
    out = nxt.stdout + nxt.stderr
    assert "morreu sem terminar" in out and "Change - load the approved databases" in out, explain(nxt)
    runbook, dummy = views(ws)
    died = [r for r in runbook["runs"] if r["status"] == "interrupted"]
    assert died and any("Change - load the approved databases" in step for step in died[-1].get("during", [])), runbook["runs"]
