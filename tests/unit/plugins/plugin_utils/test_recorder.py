"""The recorder in isolation (no Ansible run), once per store: the workspace folder and a real PostgreSQL 15.

Every test runs against both stores (``env`` is parametrized); the records are read back as files (``env.files()``:
the folder itself, or what ``ssot.governance.export`` writes from the database) and verified where they are kept.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import jsonschema
import psycopg2
import pytest
from referencing import Registry, Resource

from ansible_collections.ssot.governance.plugins.module_utils import _chain
from ansible_collections.ssot.governance.plugins.plugin_utils import _events, _guard, _recorder, _store
from ansible_collections.ssot.governance.plugins.plugin_utils._recorder import Recorder, StoreLost, WorkspaceBusy
from ansible_collections.ssot.governance.plugins.plugin_utils._redact import Redactor

ROOT = Path(__file__).resolve().parents[4]
CANARY = "Canary-9d1e-Secret"
SCHEMAS = {n: json.loads((ROOT / "schemas" / f"{n}.schema.json").read_text()) for n in ("runbook", "project-panel")}
REGISTRY = Registry().with_resources([(s["$id"], Resource.from_contents(s)) for s in SCHEMAS.values()])
DSN_ENV = "SSOT_TEST_STORE_DSN"


def assert_views_valid(ws: Path):
    for name, schema in (("runbook.json", "runbook"), ("project-panel.json", "project-panel")):
        doc = json.loads((ws / name).read_text())
        errors = list(jsonschema.Draft202012Validator(SCHEMAS[schema], registry=REGISTRY).iter_errors(doc))
        assert not errors, [(list(e.absolute_path), e.message) for e in errors[:3]]


def flip_bytes(data: bytes, needle: bytes) -> bytes:
    out = bytearray(data)
    out[out.index(needle)] ^= 0x01
    return bytes(out)


class FilesEnv:
    kind = "files"

    def __init__(self, ws: Path):
        self.ws = ws

    def new(self, **kw):
        if "environment" not in kw:
            kw["environment"] = _guard.environment_pin(str(self.ws))  # as the callback opens it
        return Recorder(str(self.ws), redactor=Redactor(environ={}), **kw)

    def files(self) -> Path:
        return self.ws

    def verify(self, **kw):
        return _chain.verify(str(self.ws), **kw)

    def where_line(self, number, seq):
        return f"journal.jsonl:{number}"

    def where_file(self, rel):
        return rel

    def alter(self, rel, needle):
        path = self.ws / rel
        path.write_bytes(flip_bytes(path.read_bytes(), needle))

    def drop_line(self, seq):
        lines = (self.ws / "journal.jsonl").read_bytes().splitlines(keepends=True)
        (self.ws / "journal.jsonl").write_bytes(b"".join(lines[:seq - 1] + lines[seq:]))

    def remove(self, rel):
        (self.ws / rel).unlink()

    def plant(self, rel, data):
        (self.ws / rel).write_bytes(data)

    def journal(self) -> list[str]:
        return (self.ws / "journal.jsonl").read_text().splitlines()

    def rewrite_journal(self, lines):
        (self.ws / "journal.jsonl").write_text("\n".join(lines) + "\n")

    def parent_dies(self, rec):
        """What the kernel does to the descriptors of a process killed outright (the writer keeps its own)."""
        for fd in (rec.store._lock, rec.store._journal, rec.store.fs.fd):
            os.close(fd)


class PgEnv(FilesEnv):
    """The same workspace folder (it holds ssot.yml), its records in a database of their own."""

    kind = "postgresql"

    def __init__(self, ws: Path, server, monkeypatch):
        super().__init__(ws)
        self.dsn = server.dsn(server.new_database())
        monkeypatch.setenv(DSN_ENV, self.dsn)
        self.namespace = _store.namespace_of(ws)
        self._exports = 0

    def new(self, **kw):
        if "environment" not in kw:
            kw["environment"] = _guard.environment_pin(str(self.ws))
        return Recorder(str(self.ws), redactor=Redactor(environ={}), store="postgresql", dsn_env=DSN_ENV, **kw)

    def store(self):
        return _store.PgStore(str(self.ws), DSN_ENV, "en")

    def files(self) -> Path:
        """A fresh export of the database's records (what ssot.governance.export writes)."""
        self._exports += 1
        folder = self.ws.parent / f"{self.ws.name}-export-{self._exports}"
        store = self.store()
        try:
            _store.export(store, str(folder))
        finally:
            store.release()
        return folder

    def verify(self, **kw):
        store = self.store()
        try:
            return _store.verify(store, **kw)
        finally:
            store.release()

    def where_line(self, number, seq):
        return f"ssot_journal namespace={self.namespace} seq={seq}"

    def where_file(self, rel):
        return f"ssot_file namespace={self.namespace} path={rel}"

    def sql(self, query, args=None):
        with psycopg2.connect(self.dsn) as conn, conn.cursor() as cur:
            cur.execute(query, args)
            return cur.fetchall() if cur.description else None

    def alter(self, rel, needle):
        if rel == "journal.jsonl":
            seq, line = self.sql("SELECT seq, line FROM ssot_journal WHERE namespace = %s AND position(%s in line) > 0"
                                 " ORDER BY seq LIMIT 1", (self.namespace, needle.decode()))[0]
            self.sql("UPDATE ssot_journal SET line = %s WHERE namespace = %s AND seq = %s",
                     (flip_bytes(line.encode(), needle).decode(), self.namespace, seq))
        else:
            data = bytes(self.sql("SELECT content FROM ssot_file WHERE namespace = %s AND path = %s",
                                  (self.namespace, rel))[0][0])
            self.sql("UPDATE ssot_file SET content = %s WHERE namespace = %s AND path = %s",
                     (flip_bytes(data, needle), self.namespace, rel))

    def parent_dies(self, rec):
        pass  # the connection is the writer's alone (detached here)

    def journal(self) -> list[str]:
        return [r[0] for r in self.sql("SELECT line FROM ssot_journal WHERE namespace = %s ORDER BY seq",
                                       (self.namespace,))]

    def rewrite_journal(self, lines):
        for line in lines:
            self.sql("UPDATE ssot_journal SET line = %s WHERE namespace = %s AND seq = %s",
                     (line, self.namespace, json.loads(line)["seq"]))

    def drop_line(self, seq):
        self.sql("DELETE FROM ssot_journal WHERE namespace = %s AND seq = %s", (self.namespace, seq))

    def remove(self, rel):
        self.sql("DELETE FROM ssot_file WHERE namespace = %s AND path = %s", (self.namespace, rel))

    def plant(self, rel, data):
        self.sql("INSERT INTO ssot_file (namespace, path, content, sha256) VALUES (%s, %s, %s, 'x')",
                 (self.namespace, rel, data))


@pytest.fixture(params=["files", "postgresql"])
def env(request, tmp_path, monkeypatch):
    ws = tmp_path / "ws"
    ws.mkdir()
    if request.param == "files":
        return FilesEnv(ws)
    return PgEnv(ws, request.getfixturevalue("store_server"), monkeypatch)


def new(ws, **kw):
    """A recorder on the folder store (the hostile-files tests: links, FIFOs, a full disk)."""
    return FilesEnv(Path(ws)).new(**kw)


def a_run(env, fail=False, close=True):
    if not isinstance(env, FilesEnv):
        env = FilesEnv(Path(env))
    rec = env.new()
    rec.open("site.yml", "tester")
    plan = [{"id": "s1", "name": "Load", "role": "ssot.governance.ssot", "phase": 0},
            {"id": "s2", "name": "Check", "role": "ssot.governance.validate", "phase": 3},
            {"id": "s3", "name": "Later", "role": "ssot.governance.validate", "phase": 3}]
    rec.start_play("play", plan)
    rec.start_task(plan[0])
    rec.result({"step": "s1", "host": "h", "status": "ok", "result": {"password": CANARY}})
    rec.ssot_loaded({"path": str(env.ws / "ssot.yml"), "digest": "sha256:" + "a" * 64, "language": "en",
                     "ssot": {"metadata": {"name": "demo"}, "references": [{"url": "https://x"}],
                              "target": {"env": {"POSTGRES_PASSWORD": {"env": "X"}}}}, "ssot_full_map": []})
    rec.start_task(plan[1])
    rec.result({"step": "s2", "host": "h", "status": "failed" if fail else "ok", "msg": "boom" if fail else "",
                "result": {}})
    rec.evidence("check.log", f"=> SELECT 1;\npassword={CANARY}\n", "s2", "h", "Check")
    rec.deviations([{"id": "setting.wal_level", "status": "deviation", "expected": "logical", "actual": "replica"}])
    if close:
        rec.close("failed" if fail else "ok")
    return rec


def test_a_run_leaves_a_verifiable_journal_and_valid_views(env):
    rec = a_run(env)
    report = env.verify()
    assert report["ok"], report["problems"]
    assert report["evidence_checked"] == 1 and report["views_checked"] == 5
    ws = env.files()
    assert_views_valid(ws)
    runbook = json.loads((ws / "runbook.json").read_text())
    assert [s["status"] for s in runbook["steps"]] == ["done", "done", "pending"], "plan shown before it runs"
    assert runbook["ssot"]["digest"] == "sha256:" + "a" * 64
    assert runbook["runs"][0]["status"] == "ok" and runbook["runs"][0]["id"] == rec.run_id
    panel = json.loads((ws / "project-panel.json").read_text())
    assert panel["milestones"][3]["status"] == "done" and panel["milestones"][3]["title"] == "Validation (SSOT)"
    assert panel["deviations"] == [{"id": "setting.wal_level", "title": "setting.wal_level", "severity": "medium",
                                    "expected": "logical", "actual": "replica"}]
    assert panel["references"] == [{"url": "https://x"}]
    names = set()
    for path in ws.rglob("*"):
        if path.is_file():
            names.add(path.relative_to(ws).parts[0])
            assert CANARY not in path.read_text(errors="replace"), path
    assert {"journal.jsonl", "evidence", "logs", "runbook.json", "project-panel.json"} <= names, names


def test_a_failed_step_becomes_a_next_step(env):
    a_run(env, fail=True)
    ws = env.files()
    runbook = json.loads((ws / "runbook.json").read_text())
    assert runbook["steps"][1]["status"] == "failed"
    assert any("Check" in n and "boom" in n for n in runbook["checkpoints"][-1]["next_steps"])
    panel = json.loads((ws / "project-panel.json").read_text())
    assert panel["milestones"][3]["status"] == "failed"


def test_resume_keeps_history_and_done_steps(env):
    first = a_run(env)
    second = env.new()
    second.open("site.yml", "tester")
    second.start_play("play", [{"id": "s3", "name": "Later", "role": None, "phase": None}])
    second.close("ok")
    runbook = json.loads((env.files() / "runbook.json").read_text())
    assert [r["id"] for r in runbook["runs"]] == [first.run_id, second.run_id]
    steps = {s["id"]: s for s in runbook["steps"]}
    assert steps["s1"]["status"] == "done" and steps["s1"]["run_id"] == first.run_id
    assert env.verify()["ok"]


def test_a_dead_run_is_marked_interrupted_by_the_next(env):
    dead = a_run(env, close=False)
    dead._release_lock()  # what the kernel (files) or the server (a session that ends) does when the process dies
    nxt = env.new()
    nxt.open("site.yml", "tester")
    nxt.close("ok")
    ws = env.files()
    runbook = json.loads((ws / "runbook.json").read_text())
    statuses = {r["id"]: r["status"] for r in runbook["runs"]}
    assert statuses == {dead.run_id: "interrupted", nxt.run_id: "ok"}
    # The next run names what the dead one was doing, in the runbook, its warnings and its log.
    died = next(r for r in runbook["runs"] if r["id"] == dead.run_id)
    assert died["during"] == ["Later"] or died["during"] == ["Check"], died
    assert any(dead.run_id in w and died["during"][0] in w for w in nxt.warnings), nxt.warnings
    log = (ws / "logs" / ("%s.log" % nxt.run_id)).read_text()
    assert dead.run_id in log and died["during"][0] in log
    assert env.verify()["ok"]
    assert_views_valid(ws)


def test_interrupt_marks_the_running_step_failed(env):
    rec = a_run(env, close=False)
    rec.start_task({"id": "s3", "name": "Later", "role": None, "phase": None})
    rec.interrupt("signal SIGTERM")
    ws = env.files()
    runbook = json.loads((ws / "runbook.json").read_text())
    assert runbook["runs"][-1]["status"] == "interrupted"
    assert {s["id"]: s["status"] for s in runbook["steps"]}["s3"] == "failed"
    assert_views_valid(ws)


def test_a_second_run_is_refused_while_one_is_active(env):
    rec = a_run(env, close=False)
    other = env.new()
    held = (rf"em uso por outra execução \(pid \d+, run {rec.run_id}" if env.kind == "files" else
            rf"em uso por outra execução \(a sessão \d+ do banco de registros .*«pid \d+, run {rec.run_id}")
    with pytest.raises(WorkspaceBusy, match=held):
        other.open("other.yml", "someone")
    rec.close("ok")
    assert env.verify()["ok"]
    # Once the first run ended, the next one is not refused.
    env.new().open("other.yml", "someone")


def test_a_torn_last_line_is_moved_aside(tmp_path):
    """Files only: a database commits whole transactions (test_an_unfinished_batch_leaves_nothing)."""
    env = FilesEnv(tmp_path)
    a_run(env)
    with open(tmp_path / "journal.jsonl", "ab") as fh:
        fh.write(b'{"seq": 999, "half')
    rec = env.new()
    rec.open("site.yml", "tester")
    rec.close("ok")
    assert any("journal.jsonl.torn-" in w and "18 bytes" in w for w in rec.warnings), rec.warnings
    assert list(tmp_path.glob("journal.jsonl.torn-*"))
    assert env.verify()["ok"]


def test_an_unfinished_batch_leaves_nothing(tmp_path, store_server, monkeypatch):
    """PostgreSQL only: lines and files pending when the connection dies are not half committed."""
    env = PgEnv(tmp_path, store_server, monkeypatch)
    a_run(env)
    before = env.sql("SELECT count(*) FROM ssot_journal")[0][0]
    rec = env.new()
    rec.open("site.yml", "tester")
    rec.store.batching = True
    rec.evidence("more.log", "x" * 1000, None, "h", "t")  # a line and its file, pending
    rec.deviations([{"id": "setting.wal_level", "status": "deviation", "expected": "logical", "actual": "minimal"}])
    pid = env.sql("SELECT pid FROM pg_stat_activity WHERE application_name = 'ssot.governance recorder' "
                  "AND datname = current_database()")[0][0]
    env.sql("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(_store.StoreLost, match="caiu"):
        rec.store.flush()
    after = env.sql("SELECT count(*) FROM ssot_journal")[0][0]
    assert after == before + 1, "only the run_start line, committed before the batch"
    assert not env.sql("SELECT path FROM ssot_file WHERE path LIKE '%more.log'")
    assert env.verify()["ok"]
    nxt = env.new()
    nxt.open("site.yml", "tester")  # the lock died with the session
    nxt.close("ok")
    runbook = json.loads((env.files() / "runbook.json").read_text())
    assert runbook["runs"][-2]["status"] == "interrupted" and runbook["runs"][-1]["status"] == "ok"


def test_a_lost_store_stops_the_writer_and_the_run(tmp_path, store_server, monkeypatch):
    """PostgreSQL only: the writer process exits on a lost connection; the next event sent says so."""
    env = PgEnv(tmp_path, store_server, monkeypatch)
    pool, writer = writer_of(env)
    writer.send(_events.StartPlay("play", []))
    # The play's views are committed within a batch (FLUSH_EVERY): the loss must come after them, or there is no
    # runbook.json to read back (what made this test fail now and then under a loaded machine).
    for dummy in range(200):
        if env.sql("SELECT count(*) FROM ssot_file WHERE path = 'runbook.json'")[0][0]:
            break
        time.sleep(0.05)
    pid = None
    for dummy in range(100):
        # This test's database only: the session's server also holds the other tests' databases.
        rows = env.sql("SELECT pid FROM pg_stat_activity WHERE application_name = 'ssot.governance recorder' "
                       "AND datname = current_database()")
        if rows:
            pid = rows[0][0]
            break
        time.sleep(0.05)
    assert pid, "the recorder never connected"
    env.sql("SELECT pg_terminate_backend(%s)", (pid,))
    with pytest.raises(StoreLost):
        for i in range(2000):
            writer.send(_events.StartTask({"id": "s%d" % i, "name": "t", "role": None, "phase": None}))
            time.sleep(0.005)
    runbook = json.loads((env.files() / "runbook.json").read_text())
    assert runbook["runs"][-1]["status"] == "running", "left for the next run to mark interrupted"
    assert env.verify()["ok"]


@pytest.mark.parametrize("target, needle, kind", [
    ("journal", b"task_start", "journal_altered"),
    ("evidence", b"SELECT", "evidence_altered"),
    ("runbook.json", b'"status"', "view_altered"),
    ("project-panel.json", b'"milestones"', "view_altered"),
])
def test_verify_names_what_was_altered(env, target, needle, kind):
    a_run(env)
    ws = env.files()
    if target == "journal":
        rel = "journal.jsonl"
    elif target == "evidence":
        rel = str(next(ws.glob("evidence/*/*check.log")).relative_to(ws))
    else:
        rel = target
    lines = (ws / "journal.jsonl").read_bytes().splitlines()
    number = next((i for i, line in enumerate(lines, 1) if needle in line), None)
    env.alter(rel, needle)
    report = env.verify()
    assert not report["ok"]
    first = report["problems"][0]
    assert first["kind"] == kind
    if target == "journal":
        assert first["where"] == env.where_line(number, number)
    else:
        assert first["where"] == env.where_file(rel)


def test_verify_names_removed_and_added_evidence_and_removed_lines(env):
    a_run(env)
    ws = env.files()
    ev = next(ws.glob("evidence/*/*check.log")).relative_to(ws)
    env.remove(str(ev))
    env.plant(str(ev.parent / "planted.log"), b"not recorded")
    report = env.verify()
    kinds = {(p["kind"], p["where"]) for p in report["problems"]}
    assert ("evidence_missing", env.where_file(str(ev))) in kinds
    # A file no journal line names: in the folder, under evidence/; in the database, a row never exported.
    assert ("evidence_added" if env.kind == "files" else "row_unnamed",
            env.where_file(str(ev.parent / "planted.log"))) in kinds
    env.drop_line(4)
    first = env.verify(lang="en")["problems"][0]
    assert first == {"kind": "journal_altered", "where": env.where_line(4, 5),
                     "detail": "sequence 5 where 4 was due (line removed or added)"}
    # In the operator's language: PT-BR by default.
    assert env.verify()["problems"][0]["detail"] == (
        "sequência 5 onde se esperava 4 (linha removida ou acrescentada)")


def writer_of(env):
    """A pool of one writer process for ``env``'s recorder, opened there (as the callback opens it)."""
    from ansible_collections.ssot.governance.plugins.plugin_utils import _writers
    pool = _writers.Pool([(env.new(), ("site.yml", "tester", {}))], kind=env.kind, size=1)
    pool.writers[0].wait_open()
    return pool, pool.writers[0]


def test_the_writer_process_records_in_order_and_finishes(env):
    pool, writer = writer_of(env)
    plan = [{"id": "s%d" % i, "name": "t%d" % i, "role": None, "phase": None} for i in range(50)]
    writer.send(_events.StartPlay("play", plan))
    for step in plan:
        writer.send(_events.StartTask(step))
        for host in ("a", "b"):
            writer.send(_events.Result({"step": step["id"], "host": host, "status": "ok", "result": {"token": CANARY}}))
    writer.send(_events.Evidence("x.log", "x" * 100000, "s1", "a", "t1"))
    writer.finish(_events.Close("ok", {}))
    assert env.verify()["ok"]
    ws = env.files()
    assert_views_valid(ws)
    runbook = json.loads((ws / "runbook.json").read_text())
    assert [s["status"] for s in runbook["steps"]] == ["done"] * 50 and runbook["runs"][-1]["status"] == "ok"
    assert CANARY not in (ws / "journal.jsonl").read_text()
    writer.finish(_events.Close("ok", {}))  # a second finish is a no-op
    env.new().open("next.yml", "tester")  # the writer let the environment go


def test_the_writer_process_stops_writing_when_its_parent_is_gone(env):
    pool, writer = writer_of(env)
    writer.send(_events.StartPlay("play", []))
    child = pool.children[0]
    child._close_events()  # what a parent killed outright leaves: the end of the pipe
    deadline = time.time() + 10
    while time.time() < deadline and os.waitpid(child.pid, os.WNOHANG)[0] == 0:
        time.sleep(0.05)
    assert time.time() < deadline, "the writer did not exit"
    runbook = json.loads((env.files() / "runbook.json").read_text())
    assert runbook["runs"][-1]["status"] == "running", "left for the next run to mark interrupted"
    assert env.verify()["ok"]
    nxt = env.new()
    nxt.open("site.yml", "tester")  # not busy: the writer's exit let the environment go
    nxt.close("ok")
    runbook = json.loads((env.files() / "runbook.json").read_text())
    assert [r["status"] for r in runbook["runs"]] == ["interrupted", "ok"]


def test_a_signal_during_a_line_is_recorded_after_the_line(env):
    from ansible_collections.ssot.governance.plugins.plugin_utils._writers import InProcess

    rec = env.new()
    rec.open("site.yml", "tester")
    local = InProcess(rec)
    order = []
    real_apply = rec.state.apply

    def handle():
        order.append("interrupt")
        rec.interrupt("signal SIGINT")
        raise KeyboardInterrupt  # what Ansible's own SIGINT handler does next

    def apply_then_signal(line):
        real_apply(line)
        if line["kind"] == "play_start":
            local.defer(handle)  # as if SIGINT arrived while this line was being written
            order.append("line written")

    rec.state.apply = apply_then_signal
    with pytest.raises(KeyboardInterrupt):
        local.send(_events.StartPlay("play", []))
    assert order == ["line written", "interrupt"]
    assert rec.closed and env.verify()["ok"]
    runbook = json.loads((env.files() / "runbook.json").read_text())
    assert runbook["runs"][-1]["status"] == "interrupted"


def _validation_run(env, checks, findings):
    rec = env.new()
    rec.open("validate.yml", "tester")
    plan = [{"id": "v1", "name": "Check", "role": "ssot.governance.validate", "phase": 3}]
    rec.start_play("play", plan)
    rec.start_task(plan[0])
    rec.result({"step": "v1", "host": "h", "status": "ok", "result": {}})
    rec.deviations(checks)
    rec.findings(findings)
    rec.close("ok")
    return json.loads((env.files() / "project-panel.json").read_text())


def test_drift_names_what_changed_since_the_last_validation(env):
    match = {"id": "setting.work_mem", "status": "match", "expected": "4MB", "actual": "4MB"}
    trust = {"id": "finding.trust", "code": "trust", "severity": "high", "title": "trust"}
    sizes = {"id": "finding.sizes", "code": "sizes", "severity": "info", "title": "sizes"}
    first = _validation_run(env, [match], [sizes])
    assert "drift" not in first  # nothing to compare with yet
    same = _validation_run(env, [match], [sizes])
    assert same["drift"]["changes"] == []
    changed = _validation_run(env, [dict(match, status="deviation", actual="64MB")], [trust])
    changes = {c["id"]: c for c in changed["drift"]["changes"]}
    assert changes["setting.work_mem"]["before"] == {"status": "match", "actual": "4MB"}
    assert changes["setting.work_mem"]["after"] == {"status": "deviation", "actual": "64MB"}
    assert changes["finding.trust"]["before"] is None and changes["finding.sizes"]["after"] is None
    assert [f["id"] for f in changed["findings"]] == ["finding.trust"]
    assert changed["drift"]["title"] and changed["drift"]["run_id"] != same["drift"]["run_id"]
    assert_views_valid(env.files())
    # The views are rebuilt from the journal alone: a fresh state replays to the same drift.
    again = _validation_run(env, [dict(match, status="deviation", actual="64MB")], [trust])
    assert again["drift"]["changes"] == []
    assert env.verify()["ok"]


def test_sealed_runs_verify_and_a_rewritten_history_is_named(env, tmp_path, new_ssh_key):
    """The seals hold in either store: a history rewritten with every later hash recomputed is named by line/row."""
    from ansible_collections.ssot.governance.plugins.module_utils import _sshsig

    key = new_ssh_key(tmp_path / "seal")
    pub = " ".join((tmp_path / "seal.pub").read_text().split()[:2])
    signers = tmp_path / "allowed_signers"
    signers.write_text('recorder@ci namespaces="%s" %s\n' % (_sshsig.SEAL_NAMESPACE, pub))
    for dummy in range(2):
        rec = env.new(seal_key=str(key))
        rec.open("site.yml", "tester")
        rec.start_play("play", [{"id": "s1", "name": "step", "role": None}])
        rec.start_task({"id": "s1", "name": "step", "role": None})
        rec.result({"step": "s1", "host": "h", "status": "ok", "result": {"n": 1}})
        rec.close("ok")
    report = env.verify(allowed_signers=str(signers), require_seals=True)
    assert report["ok"], report["problems"]
    assert report["seals"]["valid"] == 2
    out, prev = [], _chain.GENESIS
    for line in [json.loads(x) for x in env.journal()]:
        if line["seq"] == 3:
            line["data"]["name"] = "another step"
        line["prev"] = prev
        line["hash"] = _chain.line_hash(line)
        prev = line["hash"]
        out.append(_chain.canonical(line))
    env.rewrite_journal(out)
    first = env.verify(allowed_signers=str(signers), require_seals=True)["problems"][0]
    assert first["kind"] == "journal_rewritten" and first["where"] == env.where_line(3, 3), first


def test_the_writer_opens_the_run_itself_and_says_when_the_environment_is_busy(env):
    """How the callback opens a run: in the writer process, so that ansible-playbook's own process never holds the
    lock nor loads the store's driver; a busy environment is refused with the same message."""
    from ansible_collections.ssot.governance.plugins.plugin_utils import _writers

    rec = env.new()
    pool = _writers.Pool([(rec, ("site.yml", "tester", {"check_mode": False}))], kind=env.kind, size=1)
    writer = pool.writers[0]
    writer.wait_open()
    assert writer.run_id and rec.store is None, "opened in the writer, not here"
    # The files store's lock says who holds it; the database's holder is named by the server, its own words quoted.
    held = (rf"em uso por outra execução \(pid \d+, run {writer.run_id}" if env.kind == "files" else
            rf"em uso por outra execução \(a sessão \d+ do banco de registros \(papel \w+, .*«pid \d+, run {writer.run_id}")
    with pytest.raises(WorkspaceBusy, match=held):
        _writers.Pool([(env.new(), ("other.yml", "someone", {}))], kind=env.kind, size=1).writers[0].wait_open()
    writer.send(_events.StartPlay("play", []))
    writer.finish(_events.Close("ok", {}))
    runbook = json.loads((env.files() / "runbook.json").read_text())
    assert [(r["id"], r["playbook"], r["status"]) for r in runbook["runs"]] == [(writer.run_id, "site.yml", "ok")]
    assert env.verify()["ok"]


@pytest.mark.parametrize("exc, cause, words", [
    (OSError(28, "No space left on device"), "disk_full", "o disco (ou a cota) do workspace está cheio"),
    (OSError(30, "Read-only file system"), "read_only", "somente leitura"),
    (OSError(13, "Permission denied"), "read_only", "sem permissão de escrita"),
    (OSError(24, "Too many open files"), "too_many_files", "limite de arquivos abertos"),
    (_store.StoreLost("gone"), "store_lost", "banco de registros"),
    (_recorder.RecorderError("x", "seal"), "seal", "não pôde ser selado"),
    (_recorder.WorkspaceUnsafe("evidence", "symlink"), "unsafe_path", "não é um arquivo ou pasta comum"),
    (ValueError("boom"), "other", "outro motivo"),
])
def test_a_recording_failure_names_its_one_cause_and_its_fix(exc, cause, words):
    assert _recorder.cause_of(exc) == cause
    said = _recorder.incomplete("pt-BR", cause)
    assert words in said and said.startswith("ESTA EXECUÇÃO NÃO FICOU TODA REGISTRADA: ")
    # No other cause's words: the message says what happened, not a list of guesses.
    others = [_recorder.incomplete("pt-BR", c).split(":", 1)[1] for c in _recorder.CAUSES if c != cause]
    assert said.split(":", 1)[1] not in others
    assert "THIS RUN WAS NOT ALL RECORDED" in _recorder.incomplete("en", cause)


def test_a_writer_reports_its_cause_by_exit_status():
    from ansible_collections.ssot.governance.plugins.plugin_utils import _writers
    for cause in _recorder.CAUSES:
        with pytest.raises(_recorder.RecorderError) as caught:
            _writers._exited(_recorder.CAUSE_EXIT + _recorder.CAUSES.index(cause), "pt-BR")
        assert caught.value.cause == cause
        assert _recorder.text("pt-BR", "recorder.cause." + cause) in str(caught.value)


def _encodings(secret):
    """Each form a task's output may carry a secret in (what `| b64encode`, `echo | base64`, `xxd -p`, a URL or a JSON
    dump of it would print), by name."""
    import base64
    import urllib.parse
    raw = secret.encode()
    long_b64 = base64.encodebytes(raw * 5).decode()  # base64(1) folds at 76 characters
    return {
        "raw": secret, "json-escaped": json.dumps(secret + '"')[1:-2],
        "base64": base64.b64encode(raw).decode(), "base64 unpadded": base64.b64encode(raw).decode().rstrip("="),
        "base64 url-safe": base64.urlsafe_b64encode(raw).decode(),
        "base64 of echo": base64.b64encode(raw + b"\n").decode(),
        "base64 inside Basic auth": base64.b64encode(b"postgres:" + raw).decode(),
        "base64 split over lines": long_b64,
        "hex": raw.hex(), "HEX": raw.hex().upper(),
        "url": urllib.parse.quote(secret + "/ &", safe=""), "url plus": urllib.parse.quote_plus(secret + " x"),
    }


def test_a_secret_is_masked_in_every_encoding_in_every_record_and_view(env):
    secret = "Canary+9d1e/Secret???>>>"
    forms = _encodings(secret)
    assert forms["base64 url-safe"] != forms["base64"]
    rec = env.new()
    rec.learn([secret, secret * 5])  # as the controller's environment (SSOT_PG_PASSWORD) teaches it
    rec.open("site.yml", "tester")
    plan = [{"id": "s1", "name": "Echo", "role": None, "phase": 3}]
    rec.start_play("play", plan)
    rec.start_task(plan[0])
    for name, form in forms.items():
        rec.result({"step": "s1", "host": "h", "status": "ok", "msg": form,
                    "result": {"stdout": "%s: %s" % (name, form), form: "a secret as a key"}})
    rec.evidence("echo.log", "\n".join("%s=%s" % item for item in forms.items()), "s1", "h", "Echo")
    rec.close("ok")
    ws = env.files()
    found = {}
    for path in ws.rglob("*"):
        if path.is_file():
            content = path.read_text(errors="replace")
            for name, form in forms.items():
                # The form itself, or (for the folded one) any of its lines that is the secret's.
                pieces = [form] if name != "base64 split over lines" else [x for x in form.splitlines() if len(x) > 40]
                if any(p in content or json.dumps(p)[1:-1] in content for p in pieces):
                    found.setdefault(name, []).append(path.name)
    assert found == {}, found
    assert len(forms) == 12


@pytest.fixture
def pg(tmp_path, store_server, monkeypatch):
    ws = tmp_path / "ws"
    ws.mkdir()
    return PgEnv(ws, store_server, monkeypatch)


def test_a_table_locked_in_the_records_database_ends_the_run_with_a_message_not_a_hang(pg, monkeypatch):
    a_run(pg)
    monkeypatch.setenv("SSOT_STORE_LOCK_TIMEOUT", "1")
    with psycopg2.connect(pg.dsn) as conn, conn.cursor() as cur:
        cur.execute("LOCK TABLE ssot_journal IN ACCESS EXCLUSIVE MODE")  # held until this block ends
        started = time.monotonic()
        with pytest.raises(Exception) as caught:
            rec = pg.new()
            rec.open("site.yml", "tester")
        took = time.monotonic() - started
        conn.rollback()
    assert took < 15, took
    said = str(caught.value)
    assert "não liberou um lock em 1 s" in said and pg.namespace in said and "pg_locks" in said, said


def test_the_lock_holder_is_named_by_the_server_and_its_own_words_are_only_quoted(pg):
    a_run(pg)
    forged = "run 2099 aprovado por ana.souza@demo.invalid\n[ok] tudo certo"
    with psycopg2.connect(pg.dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", (_store.LOCK_CLASS, pg.namespace))
        cur.execute("UPDATE ssot_holder SET holder = %s WHERE namespace = %s", (forged, pg.namespace))
        conn.commit()
        cur.execute("SELECT pg_backend_pid(), current_user")
        pid, role = cur.fetchone()
        with pytest.raises(WorkspaceBusy) as caught:
            pg.new().open("site.yml", "tester")
    said = str(caught.value)
    assert "a sessão %d do banco de registros (papel %s" % (pid, role) in said, said
    assert "«run 2099 aprovado por ana.souza@demo.invalid\\x0a[ok] tudo certo»" in said, said
    assert "\n" not in said


def test_rows_no_journal_line_names_are_reported_by_row_and_never_exported(pg):
    a_run(pg)
    for rel in ("ansible.cfg", "evidence/forged.log", "../escape.txt", "logs/never-run.log", "runbook.json.altered-x"):
        pg.plant(rel, b"[defaults]\ncallbacks_enabled = evil\n")
    report = pg.verify()
    unnamed = sorted(p["where"] for p in report["problems"] if p["kind"] == "row_unnamed")
    assert unnamed == sorted("ssot_file namespace=%s path=%s" % (pg.namespace, rel) for rel in (
        "ansible.cfg", "evidence/forged.log", "../escape.txt", "logs/never-run.log", "runbook.json.altered-x"))
    assert not report["ok"]
    folder = pg.files()
    written = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())
    assert "ansible.cfg" not in written and "evidence/forged.log" not in written
    assert "logs/never-run.log" not in written and not (folder.parent / "escape.txt").exists()


def test_one_teams_credential_cannot_read_or_rewrite_another_teams_records(tmp_path, store_server, monkeypatch):
    """docs/awx.md: the administrator creates the tables, the isolation (row-level security) and one role per team;
    a job template's credential then reads and writes only its team's environments, and appends only."""
    from psycopg2 import sql as pgsql
    database = store_server.new_database()
    admin = store_server.dsn(database)
    suffix = os.urandom(3).hex()
    teams = {"a": "team_a_%s" % suffix, "b": "team_b_%s" % suffix}
    with psycopg2.connect(admin) as conn, conn.cursor() as cur:
        cur.execute(_store.SCHEMA_SQL)
        cur.execute(_store.ISOLATION_SQL)
        for team, role in teams.items():
            cur.execute(pgsql.SQL("CREATE ROLE {} LOGIN PASSWORD %s").format(pgsql.Identifier(role)), (role,))
            cur.execute(pgsql.SQL(_store.TEAM_GRANT_SQL).format(role=pgsql.Identifier(role)))
            cur.execute("INSERT INTO ssot_grant (namespace, role) VALUES (%s, %s)", ("env-" + team, role))
    dsn = dict((team, "host=127.0.0.1 port=%d dbname=%s user=%s password=%s" % (
        store_server.port, database, role, role)) for team, role in teams.items())
    for team in teams:
        ws = tmp_path / ("env-" + team)
        ws.mkdir()
        monkeypatch.setenv(DSN_ENV, dsn[team])
        rec = Recorder(str(ws), redactor=Redactor(environ={}), store="postgresql", dsn_env=DSN_ENV)
        rec.open("site.yml", "team " + team)
        rec.close("ok")
    monkeypatch.setenv(DSN_ENV, dsn["a"])
    with psycopg2.connect(dsn["a"]) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM ssot_journal WHERE namespace = 'env-b'")
        assert cur.fetchone()[0] == 0, "team a reads team b's journal"
        cur.execute("SELECT count(*) FROM ssot_journal WHERE namespace = 'env-a'")
        assert cur.fetchone()[0] > 0
        cur.execute("UPDATE ssot_file SET content = 'x' WHERE namespace = 'env-b'")
        assert cur.rowcount == 0, "team a rewrote team b's files"
    for attack in ("INSERT INTO ssot_journal VALUES ('env-b', 999, '{}')",
                   "DELETE FROM ssot_journal WHERE namespace = 'env-a'",
                   "UPDATE ssot_journal SET line = line WHERE namespace = 'env-a'",
                   "INSERT INTO ssot_grant VALUES ('env-b', current_user)"):
        with psycopg2.connect(dsn["a"]) as conn, conn.cursor() as cur:
            with pytest.raises(psycopg2.Error):
                cur.execute(attack)
    # Team a's verify of team b's environment sees no records at all (it cannot even tell they exist).
    store = _store.PgStore(str(tmp_path / "env-b"), DSN_ENV, "en")
    try:
        assert [p["kind"] for p in _store.verify(store)["problems"]] == ["journal_missing"]
    finally:
        store.release()
    with psycopg2.connect(admin) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM ssot_journal WHERE namespace = 'env-b'")
        assert cur.fetchone()[0] > 0


def _put_journal(env, raw):
    """The attacker's write of a whole journal: the file, or every row of the namespace replaced."""
    if env.kind == "files":
        (env.ws / "journal.jsonl").write_bytes(raw)
        return
    env.sql("DELETE FROM ssot_journal WHERE namespace = %s", (env.namespace,))
    for line in raw.decode().splitlines():
        env.sql("INSERT INTO ssot_journal (namespace, seq, line) VALUES (%s, %s, %s)",
                (env.namespace, json.loads(line)["seq"], line))


def test_journal_surgery_in_either_store_is_reported_against_the_kept_head(env, new_ssh_key, tmp_path):
    """The surgery kinds of test_journal_surgery.py on real sealed records in the folder and in the database, and
    the database's own: another environment's rows put in this one's place."""
    from ansible_collections.ssot.governance.tests.unit.plugins.plugin_utils import test_journal_surgery as cut
    key = new_ssh_key(tmp_path / "recorder")
    pub = " ".join((tmp_path / "recorder.pub").read_text().split()[:2])
    signers = tmp_path / "signers"
    signers.write_text('recorder@ci namespaces="seal@ssot.governance" %s\n' % pub)
    heads = []
    for dummy in range(3):
        rec = env.new(seal_key=str(key), environment=None)  # unpinned: a minted identity
        rec.open("site.yml", "tester")
        rec.close("ok")
        heads.append(rec.head)
    original = ("\n".join(env.journal()) + "\n").encode()
    lines = cut.parse(original)

    def problems():
        return env.verify(allowed_signers=str(signers), require_seals=True, expect_heads=[("kept", heads[-1])])[
            "problems"]
    assert problems() == []
    tried = 0
    for kind in cut.KINDS:
        for i in (1, len(lines) // 2, len(lines) - 1):
            after = cut.surgery(kind, lines, i, i + 3)
            if cut.parse(after) == lines:
                continue
            _put_journal(env, after)
            tried += 1
            assert problems(), (env.kind, kind, i)
    _put_journal(env, original)
    assert problems() == [] and tried >= 30
    # An older copy put back: the first two runs only.
    upto = int(heads[1].split(":")[0])
    _put_journal(env, ("\n".join(env.journal()[:upto]) + "\n").encode())
    found = problems()
    assert found[0]["kind"] == "journal_rolled_back" and heads[-1] in found[0]["detail"], found
    assert heads[1] in found[0]["detail"]


def test_two_workspaces_with_one_folder_name_in_the_database_are_told_apart(pg, tmp_path):
    a_run(pg)
    twin = tmp_path / "elsewhere" / pg.ws.name
    twin.mkdir(parents=True)
    rec = Recorder(str(twin), redactor=Redactor(environ={}), store="postgresql", dsn_env=DSN_ENV)
    rec.open("site.yml", "someone else")
    rec.close("ok")
    assert any(str(pg.ws) in w and str(twin) in w for w in rec.warnings), rec.warnings
    runbook = json.loads((pg.files() / "runbook.json").read_text())
    assert [r["code"] for r in runbook["records"]] == ["records_elsewhere"]
    # The same folder again: nothing to say.
    again = Recorder(str(twin), redactor=Redactor(environ={}), store="postgresql", dsn_env=DSN_ENV)
    again.open("site.yml", "someone else")
    again.close("ok")
    assert not [w for w in again.warnings if "outra pasta" in w or str(pg.ws) in w]


# --- records name their environment -----------------------------------------------------------------------------
ENV_A = "env-a-0123456789abcdef"
ENV_B = "env-b-fedcba9876543210"


def _lines(env):
    return [json.loads(x) for x in env.journal()]


def test_every_line_and_seal_binds_the_environment_the_ssot_pins(env, new_ssh_key, tmp_path):
    key = new_ssh_key(tmp_path / "recorder")
    rec = env.new(seal_key=str(key), environment=("ssot.yml", ENV_A))
    rec.open("site.yml", "tester")
    rec.close("ok")
    lines = _lines(env)
    assert lines[0]["kind"] == "environment" and lines[0]["data"]["id"] == ENV_A
    assert lines[0]["data"]["place"] == rec.identity and lines[0]["data"]["pinned_by"] == "ssot.yml"
    assert all(x["env"] == ENV_A for x in lines), [x.get("env") for x in lines]
    assert lines[-1]["kind"] == "seal" and lines[-1]["data"]["env"] == ENV_A
    assert json.loads((env.files() / "runbook.json").read_text())["journal"]["environment"] == ENV_A
    # Without a pin, the first run mints one and every later run keeps it.
    other = tmp_path / "minted"
    other.mkdir()
    (other / "ssot.yml").write_text("metadata: {name: minted}\n")
    first = FilesEnv(other).new()
    first.open("site.yml", "tester")
    first.close("ok")
    again = FilesEnv(other).new()
    again.open("site.yml", "tester")
    again.close("ok")
    minted = [json.loads(x) for x in (other / "journal.jsonl").read_text().splitlines()]
    assert len(first.env) == 32 and [x["kind"] for x in minted].count("environment") == 1
    assert set(x["env"] for x in minted) == {first.env} == {again.env}


def test_records_of_another_environment_than_the_ssot_pins_are_refused_writing_nothing(env):
    """Two environments that share a name (one folder name, one namespace): the one whose SSOT pins another identity
    is refused before it writes a line, naming both identities and the fix."""
    rec = env.new(environment=("ssot.yml", ENV_A))
    rec.open("site.yml", "tester")
    rec.close("ok")
    before = env.journal()
    twin = env.new(environment=("elsewhere/ssot.yml", ENV_B))
    with pytest.raises(_recorder.RecorderError) as caught:
        twin.open("site.yml", "the twin")
    said = str(caught.value)
    assert ENV_A in said and ENV_B in said and "metadata.id" in said, said
    assert env.journal() == before, "the refused run wrote nothing"
    # The environment's own SSOT still opens them.
    again = env.new(environment=("ssot.yml", ENV_A))
    again.open("site.yml", "tester")
    again.close("ok")
    assert env.verify()["ok"]


def test_rows_relabelled_from_another_namespace_are_refused_and_reported(pg, new_ssh_key, tmp_path):
    """The database's own surgery: environment a's rows (whole, sealed) put in b's namespace, as they are or with
    their place rewritten and the chain recomputed (no key): the run refuses, verify names the row."""
    key = new_ssh_key(tmp_path / "recorder")
    pub = " ".join((tmp_path / "recorder.pub").read_text().split()[:2])
    signers = tmp_path / "signers"
    signers.write_text('recorder@ci namespaces="seal@ssot.governance" %s\n' % pub)
    other = tmp_path / "env-b"
    other.mkdir()
    for ws in (pg.ws, other):
        rec = Recorder(str(ws), redactor=Redactor(environ={}), store="postgresql", dsn_env=DSN_ENV,
                       seal_key=str(key))
        rec.open("site.yml", "tester")
        rec.close("ok")
    theirs = pg.journal()
    pg.sql("DELETE FROM ssot_journal WHERE namespace = %s", ("env-b",))
    for line in theirs:
        pg.sql("INSERT INTO ssot_journal (namespace, seq, line) VALUES (%s, %s, %s)",
               ("env-b", json.loads(line)["seq"], line))
    with pytest.raises(_recorder.RecorderError, match="records_moved (at|em) ssot_journal namespace=env-b seq=1"):
        Recorder(str(other), redactor=Redactor(environ={}), store="postgresql", dsn_env=DSN_ENV).open("s.yml", "x")
    store = _store.PgStore(str(other), DSN_ENV, "en")
    try:
        found = _store.verify(store, allowed_signers=str(signers), require_seals=True)["problems"]
    finally:
        store.release()
    assert found[0]["kind"] == "records_moved" and found[0]["where"] == "ssot_journal namespace=env-b seq=1", found
    # The place rewritten and the chain recomputed: the chain holds, the seals (which sign it) do not.
    from ansible_collections.ssot.governance.tests.unit.plugins.plugin_utils import test_journal_surgery as cut
    lines = [json.loads(x) for x in theirs]
    lines[0]["data"] = dict(lines[0]["data"], place="postgresql:env-b")
    pg.sql("DELETE FROM ssot_journal WHERE namespace = %s", ("env-b",))
    for line in cut.rechain(lines).decode().splitlines():
        pg.sql("INSERT INTO ssot_journal (namespace, seq, line) VALUES (%s, %s, %s)",
               ("env-b", json.loads(line)["seq"], line))
    store = _store.PgStore(str(other), DSN_ENV, "en")
    try:
        kinds = [p["kind"] for p in _store.verify(store, allowed_signers=str(signers), require_seals=True)["problems"]]
    finally:
        store.release()
    assert "journal_rewritten" in kinds, kinds


def test_a_heads_log_names_the_environment_and_records_replaced_by_anothers_are_refused(env, new_ssh_key, tmp_path,
                                                                                        monkeypatch):
    """A whole journal of another environment (sealed by the same key, its chain intact) put in this one's place:
    the heads log's newest head names this environment, so the run refuses and verify says which is which."""
    import yaml
    key = new_ssh_key(tmp_path / "recorder")
    pub = " ".join((tmp_path / "recorder.pub").read_text().split()[:2])
    signers = tmp_path / "signers"
    signers.write_text('recorder@ci namespaces="seal@ssot.governance" %s\n' % pub)
    log = tmp_path / "heads.jsonl"
    root = tmp_path / "trust.yml"
    root.write_text(yaml.safe_dump({"allowed_signers": signers.read_text(), "require_seals": True,
                                    "heads_log": str(log)}))
    monkeypatch.setenv("SSOT_TRUST_ROOT", str(root))
    mine = env.new(seal_key=str(key), environment=("ssot.yml", ENV_A))
    mine.open("site.yml", "tester")
    mine.close("ok")
    logged = [json.loads(x) for x in log.read_text().splitlines()]
    assert logged[-1]["env"] == ENV_A and logged[-1]["environment"] == mine.identity
    # Another environment's records, made elsewhere with the same key, then copied over this one's.
    elsewhere = tmp_path / "other-env"
    elsewhere.mkdir()
    monkeypatch.delenv("SSOT_TRUST_ROOT")
    theirs = FilesEnv(elsewhere).new(seal_key=str(key), environment=("ssot.yml", ENV_B))
    theirs.open("site.yml", "tester")
    for dummy in range(3):
        theirs.start_task({"id": "s1", "name": "longer", "role": None, "phase": None})
    theirs.close("ok")
    monkeypatch.setenv("SSOT_TRUST_ROOT", str(root))
    # Their environment line rewritten to name this place, the chain recomputed (no key needed).
    from ansible_collections.ssot.governance.tests.unit.plugins.plugin_utils import test_journal_surgery as cut
    lines = cut.parse((elsewhere / "journal.jsonl").read_bytes())
    lines[0]["data"] = dict(lines[0]["data"], place=mine.identity)
    _put_journal(env, cut.rechain(lines))
    with pytest.raises(_recorder.RecorderError) as caught:
        env.new(seal_key=str(key)).open("site.yml", "tester")
    assert ENV_A in str(caught.value) and ENV_B in str(caught.value) and str(log) in str(caught.value)
    report = env.verify(allowed_signers=str(signers), require_seals=True,
                        expect_env=[(str(log), logged[-1]["env"])])
    first = report["problems"][0]
    assert first["kind"] == "environment_replaced" and ENV_A in first["detail"] and ENV_B in first["detail"], first


def test_the_pin_is_read_one_way_and_an_identity_that_is_not_one_refuses(tmp_path):
    from ansible_collections.ssot.governance.plugins.plugin_utils import _guard
    ssot = tmp_path / "ssot.yml"
    ssot.write_text("schema_version: 1\nmetadata:\n  name: demo\n  id: %s\n" % ENV_A)
    assert _guard.environment_pin(str(tmp_path)) == (str(ssot), ENV_A)
    ssot.rename(tmp_path / "prod.yml")
    assert _guard.environment_pin(str(tmp_path), "prod.yml") == (str(tmp_path / "prod.yml"), ENV_A)
    assert _guard.environment_pin(str(tmp_path)) == (None, None), "no SSOT to read yet"
    for text, expected in (("metadata: {name: demo}\n", (str(ssot), None)), ("metadata: [1]\n", (None, None)),
                           (": not yaml: [\n", (None, None))):
        ssot.write_text(text)
        assert _guard.environment_pin(str(tmp_path)) == expected, text
    for bad in ("'a b c d e f g h'", "7", "short", "|\n    %s\n" % ENV_A, "'%s\\x1b[2K'" % ENV_A, "'%s'" % ("x" * 65)):
        ssot.write_text("metadata:\n  name: demo\n  id: %s\n" % bad)
        with pytest.raises(_guard.PinError) as caught:
            _guard.environment_pin(str(tmp_path))
        assert caught.value.key == "guard.bad_environment_id" and "\x1b" not in caught.value.params["value"], bad
    with pytest.raises(_guard.PinError):
        _guard.environment_pin(str(tmp_path), "../elsewhere.yml")
    schema = json.loads((ROOT / "schemas" / "ssot.schema.json").read_text())
    pattern = schema["properties"]["metadata"]["properties"]["id"]["pattern"]
    assert _chain.ENVIRONMENT_ID.pattern == pattern.replace("$", r"\Z"), "schemas/ssot.schema.json says the same"


def test_a_pin_never_adopts_records_that_name_no_environment(env, new_ssh_key, tmp_path):
    """Records begun before identities (or with their identity stripped and the chain recomputed) in a workspace
    whose SSOT pins one: refused, writing nothing; unpinned, they are named (how a journal moves to identities)."""
    from ansible_collections.ssot.governance.tests.unit.plugins.plugin_utils import test_journal_surgery as cut
    key = str(new_ssh_key(tmp_path / "recorder"))
    rec = env.new(environment=("ssot.yml", ENV_B), seal_key=key)
    rec.open("site.yml", "tester")
    rec.close("ok")
    lines = _lines(env)
    stripped = cut.rechain([dict((k, v) for k, v in x.items() if k != "env") for x in lines
                            if x["kind"] != "environment"])
    _put_journal(env, stripped)
    with pytest.raises(_recorder.RecorderError) as caught:
        env.new(environment=("ssot.yml", ENV_A), seal_key=key).open("site.yml", "tester")
    assert ENV_A in str(caught.value) and "metadata.id" in str(caught.value), caught.value
    assert ("\n".join(env.journal()) + "\n").encode() == stripped, "the refused run wrote nothing"
    # Another folder's unnamed records (their runs started elsewhere), even with no seal to check: refused too.
    elsewhere = [dict(x, data=dict(x["data"], workspace="/srv/other/ws")) if x["kind"] == "run_start" else x
                 for x in cut.parse(stripped)]
    _put_journal(env, cut.rechain(elsewhere))
    with pytest.raises(_recorder.RecorderError):
        env.new(environment=("ssot.yml", ENV_A)).open("site.yml", "tester")
    _put_journal(env, stripped)
    # Without a pin (the SSOT names none), the next run names them: the move to identities.
    adopted = env.new(environment=("ssot.yml", None))
    adopted.open("site.yml", "tester")
    adopted.close("ok")
    after = _lines(env)
    assert [x["kind"] for x in after].count("environment") == 1 and after[-1]["env"] == adopted.env
    # With no SSOT to read yet, nobody names them (the identity waits for the SSOT's).
    _put_journal(env, stripped)
    waiting = env.new(environment=(None, None))
    waiting.open("site.yml", "tester")
    waiting.close("ok")
    assert all("env" not in x for x in _lines(env))


def test_an_identity_that_is_not_one_in_the_journal_is_refused_and_never_echoed_raw(tmp_path):
    from ansible_collections.ssot.governance.tests.unit.plugins.plugin_utils import test_journal_surgery as cut
    ws = FilesEnv(tmp_path)
    rec = ws.new()
    rec.open("site.yml", "tester")
    rec.close("ok")
    evil = "envX\x1b[1A\x1b[2K\rssot.governance: journal head of x: 1:" + "0" * 64 + " FAKE" + "y" * 5000
    lines = [dict(x, env=evil) for x in _lines(ws)]
    lines[0]["data"] = dict(lines[0]["data"], id=evil)
    (tmp_path / "journal.jsonl").write_bytes(cut.rechain(lines))
    with pytest.raises(_recorder.RecorderError) as caught:
        ws.new().open("site.yml", "tester")
    said = str(caught.value)
    assert "journal_foreign" in said and "\x1b" not in said and len(said) < 2000, said[:300]
    found = _chain.verify(str(tmp_path))["problems"]
    assert found[0]["kind"] == "journal_foreign" and "\x1b" not in found[0]["detail"]


def test_a_line_naming_the_environment_appended_after_unnamed_lines_is_not_taken_on_its_word(tmp_path, new_ssh_key):
    """Unnamed lines, then one appended line naming the pinned identity (no key needed: only its own hash): refused
    while no seal that holds vouches for it; the recorder's own naming (unpinned, sealed) is then pinned freely."""
    key = str(new_ssh_key(tmp_path / "recorder"))
    ws = tmp_path / "ws"
    ws.mkdir()
    files = FilesEnv(ws)
    rec = files.new(seal_key=key, environment=(None, None))  # no SSOT yet: nothing named
    rec.open("site.yml", "tester")
    rec.close("ok")
    lines = _lines(files)
    assert all("env" not in x for x in lines)
    naming = {"seq": len(lines) + 1, "ts": lines[-1]["ts"], "run": "20261206T100000Z-0bad", "kind": "environment",
              "data": {"id": ENV_A, "place": rec.identity}, "prev": lines[-1]["hash"], "env": ENV_A}
    naming["hash"] = _chain.line_hash(naming)
    before = (ws / "journal.jsonl").read_bytes() + (_chain.canonical(naming) + "\n").encode()
    (ws / "journal.jsonl").write_bytes(before)
    with pytest.raises(_recorder.RecorderError) as caught:
        files.new(seal_key=key, environment=("ssot.yml", ENV_A)).open("site.yml", "tester")
    assert "line %d" % naming["seq"] in str(caught.value) or "linha %d" % naming["seq"] in str(caught.value)
    assert (ws / "journal.jsonl").read_bytes() == before, "the refused run wrote nothing"
    # The migration: an unpinned run names the records itself, under its seal; pinning that identity then holds.
    (ws / "journal.jsonl").write_bytes(before[:-len(_chain.canonical(naming)) - 1])
    named = files.new(seal_key=key, environment=("ssot.yml", None))
    named.open("site.yml", "tester")
    named.close("ok")
    pinned = files.new(seal_key=key, environment=("ssot.yml", named.env))
    pinned.open("site.yml", "tester")
    pinned.close("ok")
    assert pinned.env == named.env


def test_what_a_pin_reader_and_a_journal_reader_meet_never_raises(tmp_path):
    from ansible_collections.ssot.governance.plugins.plugin_utils import _guard
    ssot = tmp_path / "ssot.yml"
    for text in ("", "# only a comment\n", "- a list\n", "just a scalar\n"):
        ssot.write_text(text)
        assert _guard.environment_pin(str(tmp_path)) == (None, None), "not an SSOT the play loads: %r" % text
    ssot.write_text("metadata:\n  name: d\n  id: !!int 0x%s\n" % ("f" * 4000))
    with pytest.raises(_guard.PinError):
        _guard.environment_pin(str(tmp_path))
    (tmp_path / "journal.jsonl").write_text("[" * 200000 + "\n")
    found = _chain.verify(str(tmp_path))["problems"]
    assert found[0]["kind"] == "journal_altered", found
    with pytest.raises(_recorder.RecorderError, match="journal_altered"):
        FilesEnv(tmp_path).new(environment=None).open("site.yml", "tester")


def test_the_callback_reads_ssot_file_as_a_task_renders_it(tmp_path):
    """Whatever the inventory writes (a template with a comment or a block, a number), the callback's ssot_file is
    the one the role's "{{ ssot_file }}" loads."""
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.playbook.play import Play
    from ansible.vars.manager import VariableManager
    from ansible_collections.ssot.governance.plugins.plugin_utils import _fleet
    inventory = tmp_path / "inv.yml"
    inventory.write_text(
        "all:\n  hosts:\n"
        "    a: {ssot_file: 'prod{# a comment #}.yml'}\n"
        "    b: {ssot_file: '{% if true %}prod.yml{% endif %}'}\n"
        "    c: {ssot_file: 2024}\n"
        "    d: {base: prod, ssot_file: '{{ base }}.yml'}\n"
        "    e: {}\n")
    loader = DataLoader()
    inv = InventoryManager(loader=loader, sources=[str(inventory)])
    vm = VariableManager(loader=loader, inventory=inv)
    play = Play.load({"hosts": "all", "gather_facts": False, "tasks": []}, variable_manager=vm, loader=loader)
    seen = dict((h.name, _fleet.var_of(play, h, "ssot_file")) for h in inv.get_hosts("all"))
    assert seen == {"a": "prod.yml", "b": "prod.yml", "c": "2024", "d": "prod.yml", "e": None}, seen
