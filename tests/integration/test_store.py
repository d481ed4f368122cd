"""The postgresql journal store on real ansible-playbook runs, beside the files store: the same records, one run at a
time across machines, kill -9, the database failing at start and mid-run, export and verify (docs/recorder.md)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import psycopg2
import pytest
from _support import ROOT, VENV_BIN, explain
from store_server import StoreServer

pytestmark = pytest.mark.integration

PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"
CANARY = "CanaryS-71d0c2-Pw"


@pytest.fixture(scope="module")
def server():
    srv = StoreServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def dsn(server):
    return server.dsn(server.new_database())


def env_for(store: str, dsn: str | None = None, **extra) -> dict:
    env = dict(os.environ)
    env.update(ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"), ANSIBLE_CALLBACKS_ENABLED="ssot.governance.runbook",
               ANSIBLE_NOCOLOR="1", PATH=f"{VENV_BIN}:{env.get('PATH', '')}", CANARY=CANARY, SSOT_STORE=store)
    env.pop("SSOT_STORE_DSN", None)
    if dsn:
        env["SSOT_STORE_DSN"] = dsn
    env.update(extra)
    return env


def play(ws: Path, store: str, dsn: str | None, name="steps.yml", *args, **extra):
    return subprocess.run([str(VENV_BIN / "ansible-playbook"), str(PLAYBOOKS / name), "-e", f"ssot_workspace={ws}",
                           *args], env=env_for(store, dsn, **extra), text=True, capture_output=True, timeout=300,
                          cwd=ws, stdin=subprocess.DEVNULL, check=False)


def collection_playbook(name: str, ws: Path, store: str, dsn: str | None, *args):
    return subprocess.run([str(VENV_BIN / "ansible-playbook"), name, "-e", f"ssot_workspace={ws}", *args],
                          env=env_for(store, dsn), text=True, capture_output=True, timeout=300, cwd=ws,
                          stdin=subprocess.DEVNULL, check=False)


def start(ws: Path, store: str, dsn: str, *args) -> subprocess.Popen:
    return subprocess.Popen([str(VENV_BIN / "ansible-playbook"), str(PLAYBOOKS / "slow.yml"), "-e",
                             f"ssot_workspace={ws}", *args], env=env_for(store, dsn), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ws, stdin=subprocess.DEVNULL)


def sql(dsn: str, query: str, args=None):
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute(query, args)
        return cur.fetchall() if cur.description else None


def wait_for_line(dsn: str, needle: str, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            if sql(dsn, "SELECT 1 FROM ssot_journal WHERE position(%s in line) > 0", (needle,)):
                return
        except psycopg2.Error:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{needle!r} never recorded")


def export(ws: Path, dsn: str, dest: Path) -> subprocess.CompletedProcess:
    return collection_playbook("ssot.governance.export", ws, "postgresql", dsn, "-e", f"export_dest={dest}")


# What differs between two runs of the same playbooks whatever the store: when, which run, which process.
VOLATILE = [
    (re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{4}"), "RUN"),
    (re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?Z?( UTC)?"), "TIME"),
    (re.compile(r"[0-9a-f]{64}"), "SHA"),
    (re.compile(r"\bpid \d+|\"pid\": \d+"), "PID"),
    (re.compile(r"\"(duration_s|seconds|elapsed)\": [0-9.]+"), "DURATION"),
]


def normalized(data: bytes) -> str:
    out = data.decode("utf-8")
    for pattern, token in VOLATILE:
        out = pattern.sub(token, out)
    return out


def records(folder: Path) -> dict:
    """Every recorded file but the journal, by its name with the run ids numbered in run order."""
    paths = [p for p in sorted(folder.rglob("*")) if p.is_file()
             and p.name not in ("journal.jsonl", ".recorder.lock") and not p.name.endswith((".yml", ".cfg"))]
    runs = sorted(set(m.group(0) for p in paths for m in VOLATILE[0][0].finditer(str(p))))
    out = {}
    for p in paths:
        name = str(p.relative_to(folder))
        for n, run in enumerate(runs, 1):
            name = name.replace(run, f"RUN{n}")
        out[name] = p.read_bytes()
    return out


def test_the_same_runs_leave_the_same_records_in_either_store(tmp_path, dsn, server):
    """Run the same playbooks once per store, in the same workspace path: the database's records, exported, are the
    files store's, view for view (times, run ids and hashes aside); the exported views are the bytes the journal
    recorded (verify passes on the folder); the canary secret is nowhere in the database."""
    ws = tmp_path / "env"
    results = {}
    for store in ("files", "postgresql"):
        ws.mkdir()
        assert play(ws, store, dsn).returncode == 0
        proc = play(ws, store, dsn, "steps.yml", "-e", "fail_here=true")
        assert proc.returncode == 2, explain(proc)
        if store == "postgresql":
            assert not (ws / "journal.jsonl").exists(), "the postgresql store writes nothing in the folder"
            done = export(ws, dsn, tmp_path / "exported")
            assert done.returncode == 0, explain(done)
            assert "Registros de env exportados" in done.stdout, done.stdout
            results[store] = tmp_path / "exported"
        else:
            ws.rename(tmp_path / "files-store")
            results[store] = tmp_path / "files-store"
    files, pg = records(results["files"]), records(results["postgresql"])
    assert sorted(files) == sorted(pg)
    views = {"runbook.json", "project-panel.json", "project-panel.html", "logs/RUN1.log", "logs/RUN2.log"}
    assert views <= set(files), sorted(files)
    for name in files:
        assert normalized(files[name]) == normalized(pg[name]), name
    kinds = [[json.loads(line)["kind"] for line in (results[s] / "journal.jsonl").read_text().splitlines()]
             for s in ("files", "postgresql")]
    assert kinds[0] == kinds[1] and len(kinds[0]) > 20
    # The exported folder is a workspace like any other: verify (files store) re-hashes every file against the
    # journal, so each view is byte for byte the one the recorder stored.
    verified = collection_playbook("ssot.governance.verify", results["postgresql"], "files", None)
    assert verified.returncode == 0, explain(verified)
    dump = subprocess.run(["docker", "exec", server.name, "pg_dump", "-U", "postgres", "-d",
                           dsn.split("dbname=")[1].split()[0]], capture_output=True, text=True, check=True).stdout
    assert "ssot_journal" in dump and CANARY not in dump
    assert server.password not in dump, "the store's own DSN password, echoed by a task, is masked too"
    assert "store-dsn.txt" in dump
    for path in results["postgresql"].rglob("*"):
        if path.is_file():
            assert CANARY not in path.read_text(errors="replace"), path
            assert server.password not in path.read_text(errors="replace"), path


def test_verify_in_the_database_names_the_altered_row(tmp_path, dsn):
    ws = tmp_path / "env"
    ws.mkdir()
    assert play(ws, "postgresql", dsn).returncode == 0
    ok = collection_playbook("ssot.governance.verify", ws, "postgresql", dsn)
    assert ok.returncode == 0, explain(ok)
    seq, line = sql(dsn, "SELECT seq, line FROM ssot_journal WHERE line LIKE '%%\"kind\":\"task_start\"%%' "
                         "ORDER BY seq LIMIT 1")[0]
    sql(dsn, "UPDATE ssot_journal SET line = %s WHERE seq = %s", (line.replace("First step", "First stop"), seq))
    bad = collection_playbook("ssot.governance.verify", ws, "postgresql", dsn)
    # The run itself reads the rows back with every hash recomputed: refused before anything runs, naming the row.
    assert bad.returncode == 3
    said = " ".join((bad.stdout + bad.stderr).split())
    assert f"journal_altered em ssot_journal namespace=env seq={seq}" in said, said[-3000:]


def test_one_run_at_a_time_across_machines_and_kill_9(tmp_path, dsn):
    """Two folders with the environment's name on two machines (here two paths): one namespace, one lock."""
    a, b = tmp_path / "pod-a" / "env", tmp_path / "pod-b" / "env"
    a.mkdir(parents=True)
    b.mkdir(parents=True)
    first = start(a, "postgresql", dsn)
    try:
        wait_for_line(dsn, "Wait here")
        second = play(b, "postgresql", dsn)
        assert second.returncode == 3, explain(second)
        assert "em uso por outra execução" in second.stdout + second.stderr
        assert "slow.yml" in second.stdout + second.stderr, "names who holds it"
        first.send_signal(signal.SIGKILL)
        first.wait(30)
    finally:
        if first.poll() is None:
            first.kill()
    # The server ends the killed run's session, and its lock, once its writer sees the end of the pipe.
    deadline = time.time() + 30
    while True:
        nxt = play(b, "postgresql", dsn)
        if nxt.returncode == 0 or time.time() > deadline:
            break
        time.sleep(1)
    assert nxt.returncode == 0, explain(nxt)
    assert "morreu sem terminar" in nxt.stdout + nxt.stderr or "died" in nxt.stdout + nxt.stderr, nxt.stdout[-2000:]
    folder = tmp_path / "out"
    assert export(b, dsn, folder).returncode == 0
    runbook = json.loads((folder / "runbook.json").read_text())
    assert [r["status"] for r in runbook["runs"]] == ["interrupted", "ok"]
    assert collection_playbook("ssot.governance.verify", b, "postgresql", dsn).returncode == 0


def test_the_database_unreachable_or_unnamed_refuses_before_anything_runs(tmp_path):
    ws = tmp_path / "env"
    ws.mkdir()
    down = play(ws, "postgresql", "host=127.0.0.1 port=1 dbname=x user=x password=" + CANARY + " connect_timeout=3")
    out = down.stdout + down.stderr
    assert down.returncode == 3, explain(down)
    assert "SSOT_STORE_DSN" in out and "Nada foi executado" in out
    assert "TASK [" not in down.stdout and CANARY not in out
    unnamed = play(ws, "postgresql", None)
    assert unnamed.returncode == 3 and "variável de ambiente SSOT_STORE_DSN" in unnamed.stdout + unnamed.stderr
    assert list(ws.iterdir()) == []


def test_the_database_lost_mid_run_stops_the_run_and_the_next_says_so(tmp_path, dsn):
    ws = tmp_path / "env"
    ws.mkdir()
    run = start(ws, "postgresql", dsn, "-e", "wait_seconds=8")
    wait_for_line(dsn, "Wait here")
    sql(dsn, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
             "WHERE application_name = 'ssot.governance recorder'")
    out, dummy = run.communicate(timeout=120)
    assert run.returncode == 3, out[-3000:]
    assert "caiu" in out and "para aqui" in out, out[-3000:]
    # Noticed at the next record (the task's start): that task never runs.
    assert '"msg": "after"' not in out, "the run stopped"
    nxt = play(ws, "postgresql", dsn)
    assert nxt.returncode == 0, explain(nxt)
    assert "morreu sem terminar" in nxt.stdout + nxt.stderr, nxt.stdout[-2000:]
    assert collection_playbook("ssot.governance.verify", ws, "postgresql", dsn).returncode == 0


def test_export_never_overwrites_another_history(tmp_path, dsn):
    ws = tmp_path / "env"
    ws.mkdir()
    assert play(ws, "postgresql", dsn).returncode == 0
    other = tmp_path / "other"
    other.mkdir()
    (other / "journal.jsonl").write_text('{"seq":1}\n')
    refused = export(ws, dsn, other)
    assert refused.returncode == 2 and "outra história" in refused.stdout, explain(refused)
    assert (other / "journal.jsonl").read_text() == '{"seq":1}\n'
    files_only = collection_playbook("ssot.governance.export", ws, "files", None)
    assert files_only.returncode == 2 and "armazenamento postgresql" in files_only.stdout


def test_two_environments_sharing_a_name_or_relabelled_rows_are_refused(tmp_path, dsn):
    """Records name their environment: two folders named shop (one namespace) whose SSOTs pin two identities, and
    another environment's rows relabelled into this namespace - each refused before anything runs, naming both."""
    first, twin, other = tmp_path / "a" / "shop", tmp_path / "b" / "shop", tmp_path / "other"
    for ws, ident in ((first, "shop-a-0000000001"), (twin, "shop-b-0000000002"), (other, "other-0000000003")):
        ws.mkdir(parents=True)
        (ws / "ssot.yml").write_text(f"schema_version: 1\nmetadata:\n  name: shop\n  id: {ident}\n")
    for ws in (first, other):
        done = play(ws, "postgresql", dsn)
        assert done.returncode == 0, explain(done)
        assert re.search(r"\(ambiente %s\)" % ("shop-a-0000000001" if ws == first else "other-0000000003"),
                         done.stdout), explain(done)
    rows = sql(dsn, "SELECT count(*) FROM ssot_journal WHERE namespace = 'shop'")[0][0]
    # The twin's SSOT is named by the inventory (as the plays read it), not by an extra var.
    (twin / "ssot.yml").rename(twin / "prod.yml")
    (twin / "hosts.ini").write_text("localhost ansible_connection=local ssot_file=prod.yml\n")
    refused = play(twin, "postgresql", dsn, "steps.yml", "-i", str(twin / "hosts.ini"))
    said = " ".join((refused.stdout + refused.stderr).split())
    assert refused.returncode == 3 and "shop-a-0000000001" in said and "shop-b-0000000002" in said, explain(refused)
    assert "First step" not in refused.stdout, "nothing ran"
    assert sql(dsn, "SELECT count(*) FROM ssot_journal WHERE namespace = 'shop'")[0][0] == rows
    # shop's rows relabelled as other's (its own dropped): the run and verify there refuse, naming the row.
    sql(dsn, "DELETE FROM ssot_journal WHERE namespace = 'other'")
    sql(dsn, "INSERT INTO ssot_journal (namespace, seq, line) SELECT 'other', seq, line FROM ssot_journal "
             "WHERE namespace = 'shop'")
    for proc in (play(other, "postgresql", dsn), collection_playbook("ssot.governance.verify", other, "postgresql", dsn)):
        said = " ".join((proc.stdout + proc.stderr).split())
        assert proc.returncode == 3, explain(proc)
        moved = "records_moved" in said or "shop-a-0000000001" in said
        assert "ssot_journal namespace=other seq=1" in said and moved, said[-3000:]


def test_the_ssot_the_play_loads_must_pin_the_records_identity(tmp_path):
    """A playbook that names its SSOT where the recorder cannot see it (a role's vars): the SSOT load, where the
    SSOT in force is read, refuses records opened under another identity (here: none), before anything runs."""
    ws = tmp_path / "shop"
    ws.mkdir()
    (ws / "prod.yml").write_text(
        "schema_version: 1\nmetadata:\n  name: shop\n  id: shop-c-0000000009\ntarget:\n  container: ssot-none\n"
        "  image: legacy-pg:10.23\n  ports:\n    - {bind: 127.0.0.1, host: 55999, container: 5432}\n")
    book = tmp_path / "wrapper.yml"
    book.write_text("- name: Wrapper\n  hosts: localhost\n  gather_facts: false\n  roles:\n"
                    "    - role: ssot.governance.ssot\n      vars:\n        ssot_file: prod.yml\n")
    proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), str(book), "-e", f"ssot_workspace={ws}"],
                          env=env_for("files"), text=True, capture_output=True, timeout=300, cwd=ws,
                          stdin=subprocess.DEVNULL, check=False)
    said = " ".join((proc.stdout + proc.stderr).split())
    assert proc.returncode != 0 and "shop-c-0000000009" in said and "metadata.id" in said, explain(proc)
    # Named where the recorder reads it (the inventory), the same SSOT opens its records under its identity.
    (ws / "hosts.ini").write_text(f"localhost ansible_connection=local ansible_python_interpreter={VENV_BIN}/python "
                                  "ssot_file=prod.yml\n")
    book.write_text("- name: Wrapper\n  hosts: localhost\n  gather_facts: false\n  roles:\n"
                    "    - role: ssot.governance.ssot\n")
    proc = subprocess.run([str(VENV_BIN / "ansible-playbook"), str(book), "-i", str(ws / "hosts.ini"), "-e",
                           f"ssot_workspace={ws}"], env=env_for("files"), text=True, capture_output=True,
                          timeout=300, cwd=ws, stdin=subprocess.DEVNULL, check=False)
    assert proc.returncode == 0 and "(ambiente shop-c-0000000009)" in proc.stdout, explain(proc)
