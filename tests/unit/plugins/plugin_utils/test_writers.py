# -*- coding: utf-8 -*-
"""The writer pool (plugin_utils/_writers.py): many environments, a few processes, each environment its own record."""

from __future__ import annotations

import json
import os
import resource
from pathlib import Path

import pytest

from ansible_collections.ssot.governance.plugins.module_utils import _chain
from ansible_collections.ssot.governance.plugins.plugin_utils import _events, _writers
from ansible_collections.ssot.governance.plugins.plugin_utils._recorder import Recorder, RecorderError
from ansible_collections.ssot.governance.plugins.plugin_utils._redact import Redactor

PLAN = [{"id": "s1", "name": "Set", "role": None, "phase": None}]


def _recorders(base: Path, count: int, kind="files", dsn_env=None):
    items = []
    for i in range(count):
        ws = base / ("env%03d" % i)
        ws.mkdir(parents=True, exist_ok=True)
        rec = Recorder(str(ws), "en", Redactor(environ={}), store=kind, dsn_env=dsn_env, environment=(None, None))
        items.append((rec, ("site.yml", "tester", {})))
    return items


def _one_run(pool, writers, canary="x"):
    for writer in writers:
        writer.wait_open()
    pool.send(writers, _events.StartPlay("play", PLAN))
    pool.send(writers, _events.StartTask(PLAN[0]))
    for n, writer in enumerate(writers):
        writer.send(_events.Result({"step": "s1", "host": "h%d" % n, "status": "ok", "result": {"n": n}}))
    for writer in writers:
        writer.end(_events.Close("ok", {}))


def _kinds(ws: Path):
    return [json.loads(line)["kind"] for line in (ws / _chain.JOURNAL).read_bytes().splitlines()]


def _children():
    me = str(os.getpid())
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path("/proc/%s/stat" % entry).read_text()
            except OSError:
                continue
            if stat.rsplit(")", 1)[1].split()[1] == me:
                out.append(int(entry))
    return out


def test_the_pool_grows_with_the_descriptors_environments_hold_never_with_their_number_alone():
    assert _writers.pool_size(0, "files") == 0
    assert _writers.pool_size(1, "files", limit=1024) == 1
    assert _writers.pool_size(10, "files", limit=1024) == _writers.MIN_WRITERS
    # 1,000 environments holding 4 descriptors each do not fit in 2 writers under ulimit -n 1024.
    size = _writers.pool_size(1000, "files", limit=1024)
    per_writer = -(-1000 // size)
    assert size > _writers.MIN_WRITERS
    assert per_writer * _writers.FDS_PER_ENVIRONMENT["files"] + _writers.FDS_RESERVED <= 1024
    # A database store holds no descriptor per environment: as many connections as writers, whatever the number.
    assert _writers.pool_size(1000, "postgresql", limit=1024) == _writers.MIN_WRITERS
    assert _writers.pool_size(100000, "postgresql", limit=1024) == _writers.MIN_WRITERS


def test_a_few_writers_record_many_environments_each_in_its_own_chain(tmp_path):
    items = _recorders(tmp_path, 40)
    before = set(_children())
    pool = _writers.Pool(items, size=3)
    assert len(set(_children()) - before) == 3  # three processes for forty environments
    _one_run(pool, pool.writers)
    for writer in pool.writers:
        writer.wait()
        assert writer.summary is not None and writer.summary["last_run"]["status"] == "ok"
    for i in range(40):
        ws = tmp_path / ("env%03d" % i)
        kinds = _kinds(ws)
        assert kinds.count("result") == 1 and "run_end" in kinds, (ws, kinds)
        assert _chain.verify(str(ws))["ok"]
        assert '"n": %d' % i in (ws / _chain.JOURNAL).read_text().replace('"n":%d' % i, '"n": %d' % i)
    assert not set(_children()) - before  # every writer exited once its environments ended


def test_one_environment_that_cannot_be_written_fails_alone(tmp_path):
    items = _recorders(tmp_path, 6)
    pool = _writers.Pool(items, size=2)
    for writer in pool.writers:
        writer.wait_open()
    pool.send(pool.writers, _events.StartPlay("play", PLAN))
    # A link planted where env003's evidence goes: that environment's record is refused, not written through.
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, tmp_path / "env003" / "evidence")
    for writer in pool.writers:
        writer.send(_events.Evidence("proof.txt", "content", "s1", "h", "t"))
    for writer in pool.writers:
        writer.end(_events.Close("ok", {}))
    failures = {}
    for n, writer in enumerate(pool.writers):
        try:
            writer.wait()
        except RecorderError as exc:
            failures[n] = exc.cause
    assert failures == {3: "unsafe_path"}
    assert not list(outside.iterdir())
    for i in (0, 1, 2, 4, 5):
        assert "evidence" in _kinds(tmp_path / ("env%03d" % i)) and "run_end" in _kinds(tmp_path / ("env%03d" % i))


def test_a_busy_environment_is_refused_and_the_others_open(tmp_path):
    from ansible_collections.ssot.governance.plugins.plugin_utils import _store
    items = _recorders(tmp_path, 4)
    holder = _store.FileStore(str(tmp_path / "env002"))
    holder.lock()
    try:
        pool = _writers.Pool(items, size=2)
        outcomes = []
        for writer in pool.writers:
            try:
                writer.wait_open()
                outcomes.append("open")
            except RecorderError as exc:
                outcomes.append(type(exc).__name__)
        assert outcomes == ["open", "open", "WorkspaceBusy", "open"]
        live = [w for w in pool.writers if not w.ended]
        for writer in live:
            writer.finish(_events.Close("ok", {}))
    finally:
        holder.release()
    assert not (tmp_path / "env002" / _chain.JOURNAL).exists() or "run_start" not in _kinds(tmp_path / "env002")


def test_the_writers_keep_within_a_low_descriptor_limit(tmp_path):
    """300 environments of the files store (3 descriptors each held for the whole run) under a limit of 256: a pool
    sized by the limit records every one; the writers run in a child whose limit is lowered (hard too)."""
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256))
            items = _recorders(tmp_path, 300)
            pool = _writers.Pool(items)
            _one_run(pool, pool.writers)
            for writer in pool.writers:
                writer.wait()
            code = 0 if len(pool.children) >= 5 else 2
        except BaseException as exc:  # reported by the status
            os.write(2, ("%r\n" % exc).encode())
            code = 3
        finally:
            os._exit(code)
    dummy, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    for i in range(300):
        assert "run_end" in _kinds(tmp_path / ("env%03d" % i))


def test_a_database_store_shares_one_connection_per_writer(tmp_path, store_server, monkeypatch):
    dsn = store_server.dsn(store_server.new_database())
    monkeypatch.setenv("SSOT_TEST_POOL_DSN", dsn)
    items = _recorders(tmp_path, 12, kind="postgresql", dsn_env="SSOT_TEST_POOL_DSN")
    pool = _writers.Pool(items, kind="postgresql")
    assert len(pool.children) == _writers.MIN_WRITERS
    for writer in pool.writers:
        writer.wait_open()
    import psycopg2
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = 'ssot.governance recorder' "
                    "AND datname = current_database()")
        sessions = cur.fetchone()[0]
        cur.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted AND objsubid = 2")
        locks = cur.fetchone()[0]
    assert sessions == _writers.MIN_WRITERS and locks >= 12
    pool.send(pool.writers, _events.StartPlay("play", PLAN))
    for writer in pool.writers:
        writer.finish(_events.Close("ok", {}))
    with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
        cur.execute("SELECT count(DISTINCT namespace) FROM ssot_journal WHERE line LIKE '%%\"run_end\"%%'")
        assert cur.fetchone()[0] == 12


def test_two_environments_of_one_name_on_one_connection_are_told_apart(tmp_path, store_server, monkeypatch):
    """One session may take an advisory lock it holds again: the second environment of a name is refused as busy,
    as it would be by another session."""
    dsn = store_server.dsn(store_server.new_database())
    monkeypatch.setenv("SSOT_TEST_POOL_DSN", dsn)
    items = []
    for where in ("a", "b"):
        ws = tmp_path / where / "same"
        ws.mkdir(parents=True)
        items.append((Recorder(str(ws), "en", Redactor(environ={}), store="postgresql",
                               dsn_env="SSOT_TEST_POOL_DSN", environment=(None, None)), ("site.yml", "t", {})))
    pool = _writers.Pool(items, kind="postgresql", size=1)
    pool.writers[0].wait_open()
    with pytest.raises(RecorderError) as err:
        pool.writers[1].wait_open()
    assert type(err.value).__name__ == "WorkspaceBusy"
    pool.writers[0].finish(_events.Close("ok", {}))


def test_a_database_batch_is_committed_within_its_time_while_the_run_goes_on(tmp_path, store_server, monkeypatch):
    """Lines wait at most FLUSH_EVERY in a writer's batch: the run's own lookups read them from the database."""
    import time
    import psycopg2
    dsn = store_server.dsn(store_server.new_database())
    monkeypatch.setenv("SSOT_TEST_POOL_DSN", dsn)
    pool = _writers.Pool(_recorders(tmp_path, 3, kind="postgresql", dsn_env="SSOT_TEST_POOL_DSN"), kind="postgresql")
    for writer in pool.writers:
        writer.wait_open()
    pool.send(pool.writers, _events.StartTask(PLAN[0]))  # no view, no end: only the batch's clock commits it
    seen = 0
    deadline = time.time() + 10 * _writers.FLUSH_EVERY
    while time.time() < deadline and seen < 3:
        time.sleep(0.1)
        with psycopg2.connect(dsn) as conn, conn.cursor() as cur:
            cur.execute("SELECT count(*) FROM ssot_journal WHERE line LIKE '%%\"task_start\"%%'")
            seen = cur.fetchone()[0]
    assert seen == 3, "the batch was not committed while the run went on"
    for writer in pool.writers:
        writer.finish(_events.Close("ok", {}))


def test_whatever_one_environment_raises_fails_it_alone(tmp_path, monkeypatch):
    """Review 22: a line a workspace writer shaped made one recorder raise an AttributeError, which ended the whole
    writer - the other environments it served lost their end and their seal. Any exception is that environment's."""
    from ansible_collections.ssot.governance.plugins.plugin_utils import _recorder
    real = _recorder.Recorder.findings

    def findings(self, found):
        if self.workspace.endswith("env001"):
            raise AttributeError("shaped by someone who writes the workspace")
        return real(self, found)
    monkeypatch.setattr(_recorder.Recorder, "findings", findings)
    monkeypatch.setitem(_recorder.HANDLERS, _events.Findings, findings)
    pool = _writers.Pool(_recorders(tmp_path, 3), size=1)
    for writer in pool.writers:
        writer.wait_open()
    pool.send(pool.writers, _events.Findings([{"id": "finding.a", "severity": "low", "title": "a"}]))
    failed = []
    for n, writer in enumerate(pool.writers):
        try:
            writer.finish(_events.Close("ok", {}))
        except RecorderError:
            failed.append(n)
    assert failed == [1]
    for i in (0, 2):
        assert "run_end" in _kinds(tmp_path / ("env%03d" % i))
