"""The recorder under a hostile or unlucky workspace: links, FIFOs, a full disk, a crash at each write point.

Each case ends with a clear refusal or a workspace that the next run repairs (recording what it repaired) and
that verify accepts; nothing is ever written outside the workspace."""

from __future__ import annotations

import errno
import os
import subprocess
import uuid

import pytest

from ansible_collections.ssot.governance.plugins.module_utils import _chain
from ansible_collections.ssot.governance.plugins.plugin_utils import _workspace
from ansible_collections.ssot.governance.plugins.plugin_utils._recorder import RecorderError

from ansible_collections.ssot.governance.tests.unit.plugins.plugin_utils.test_recorder import (  # noqa: F401
    a_run, assert_views_valid, new)

FILES = [".recorder.lock", "journal.jsonl", "runbook.json", "project-panel.json", "project-panel.html",
         "homologacao-conectividade-ssot.md"]
FOLDERS = ["evidence", "logs"]


def victim(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.txt").write_text("precious\n")
    return outside


def outside_untouched(outside):
    assert sorted(p.name for p in outside.iterdir()) == ["victim.txt"], list(outside.iterdir())
    assert (outside / "victim.txt").read_text() == "precious\n"


@pytest.mark.parametrize("name", FILES)
def test_a_symlinked_file_is_refused_and_its_target_untouched(tmp_path, name):
    outside = victim(tmp_path)
    ws = tmp_path / "ws"
    a_run(ws)  # a real workspace first: the link replaces one of its files
    (ws / name).unlink()
    (ws / name).symlink_to(outside / "victim.txt")
    with pytest.raises(RecorderError) as err:
        a_run(ws)
    assert name in str(err.value) and ("link simbólico" in str(err.value) or "symbolic link" in str(err.value))
    outside_untouched(outside)


@pytest.mark.parametrize("name", FOLDERS)
def test_a_symlinked_folder_is_refused_and_nothing_lands_outside(tmp_path, name):
    outside = victim(tmp_path)
    ws = tmp_path / "ws"
    a_run(ws)
    os.rename(ws / name, tmp_path / ("old-" + name))
    (ws / name).symlink_to(outside, target_is_directory=True)
    with pytest.raises(RecorderError) as err:
        a_run(ws)
    assert name in str(err.value)
    outside_untouched(outside)


def test_a_fifo_as_journal_is_refused_without_waiting(tmp_path):
    ws = tmp_path / "ws"
    ws.mkdir()
    os.mkfifo(ws / "journal.jsonl")
    with pytest.raises(RecorderError) as err:
        a_run(ws)
    assert "FIFO" in str(err.value)


def test_a_link_swapped_in_after_open_cannot_redirect_evidence(tmp_path):
    outside = victim(tmp_path)
    ws = tmp_path / "ws"
    rec = new(ws)
    rec.open("site.yml", "tester")
    rec.start_play("play", [])
    run_dir = ws / "evidence" / rec.run_id
    rec.evidence("first.log", "one\n")
    os.rename(run_dir, tmp_path / "moved")
    run_dir.symlink_to(outside, target_is_directory=True)
    with pytest.raises(RecorderError):
        rec.evidence("second.log", "two\n")
    outside_untouched(outside)


class Faulty(object):
    """os.write that fails with ENOSPC at the n-th call (counting from arming), or writes half at it (short)."""

    def __init__(self, monkeypatch, n, short=False):
        self.n, self.short, self.calls = n, short, 0
        self.real = os.write
        monkeypatch.setattr(_workspace.os, "write", self)

    def __call__(self, fd, data):
        self.calls += 1
        if self.calls == self.n:
            if self.short and len(data) > 1:
                return self.real(fd, bytes(data[:len(data) // 2]))
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self.real(fd, data)


def dies(rec):
    """What the kernel does when the process ends: descriptors closed, the lock released."""
    if rec.store is None:
        return
    for fd in (rec.store._journal,):
        try:
            os.close(fd)
        except (OSError, TypeError):
            pass
    rec._release_lock()


def attempt(ws):
    """A whole run; True when it failed or said it could not record everything."""
    rec = new(ws)
    try:
        rec.open("site.yml", "tester")
        plan = [{"id": "s1", "name": "Load", "role": "ssot.governance.ssot", "phase": 0}]
        rec.start_play("play", plan)
        rec.start_task(plan[0])
        rec.result({"step": "s1", "host": "h", "status": "ok", "result": {"x": "y" * 300}})
        rec.evidence("check.log", "=> SELECT 1;\n" * 40, "s1", "h", "Check")
        rec.deviations([{"id": "setting.wal_level", "status": "deviation", "expected": "logical",
                         "actual": "replica"}])
        rec.close("ok")
        return rec.failures > 0
    except (RecorderError, OSError):
        if not rec.closed:
            dies(rec)
        return True


def count_writes(tmp_path, monkeypatch):
    counter = Faulty(monkeypatch, 0)
    attempt(tmp_path / "count")
    monkeypatch.setattr(_workspace.os, "write", counter.real)
    return counter.calls


@pytest.mark.parametrize("short", [False, True])
def test_a_full_disk_at_every_write_point_leaves_a_repairable_workspace(tmp_path, monkeypatch, short):
    total = count_writes(tmp_path, monkeypatch)
    assert total > 20
    unverifiable = []
    for n in range(1, total + 1):
        ws = tmp_path / ("ws-%d" % n)
        a_run(ws)  # a good run first
        faulty = Faulty(monkeypatch, n, short)
        failed = attempt(ws)
        monkeypatch.setattr(_workspace.os, "write", faulty.real)
        if short and not failed:
            # A short write that is finished by the loop is no failure; nothing to repair either.
            pass
        else:
            assert failed, "write %d failed silently" % n
        # Space is back: the next run repairs and the record verifies.
        later = new(ws)
        later.open("site.yml", "tester")
        later.close("ok")
        report = _chain.verify(str(ws))
        if not report["ok"]:
            unverifiable.append((n, report["problems"][:2]))
        assert not list(ws.rglob("*.part")) and not list(ws.rglob("*.tmp-*"))
    assert unverifiable == []


def crash_between(monkeypatch, what):
    """Make the rename after a staged write fail as a kill -9 would leave it: staged file and journal line written."""
    real = _workspace.Folder.commit

    def commit(self, temp, rel, durable=True):
        if what in rel:
            raise KeyboardInterrupt("killed")
        return real(self, temp, rel, durable)

    monkeypatch.setattr(_workspace.Folder, "commit", commit)
    return real


@pytest.mark.parametrize("what", ["evidence/", "runbook.json", "project-panel.html", "logs/"])
def test_a_kill_between_journal_line_and_rename_is_finished_by_the_next_run(tmp_path, monkeypatch, what):
    ws = tmp_path / "ws"
    a_run(ws)
    real = crash_between(monkeypatch, what)
    rec = new(ws)
    with pytest.raises(KeyboardInterrupt):
        rec.open("site.yml", "tester")
        rec.start_play("play", [])
        rec.evidence("check.log", "x\n")
        rec.close("ok")
    dies(rec)
    monkeypatch.setattr(_workspace.Folder, "commit", real)
    staged = list(ws.rglob("*.part")) + list(ws.rglob("*.tmp-*"))
    assert staged, "the crash left nothing to repair"
    later = new(ws)
    later.open("site.yml", "tester")
    later.close("ok")
    assert not list(ws.rglob("*.part")) and not list(ws.rglob("*.tmp-*"))
    report = _chain.verify(str(ws))
    assert report["ok"], report["problems"]
    journal = (ws / "journal.jsonl").read_text()
    assert '"kind":"repaired"' in journal


def test_leftover_part_files_never_named_are_swept_and_recorded(tmp_path):
    ws = tmp_path / "ws"
    rec = a_run(ws)
    stray = ws / "evidence" / rec.run_id / "00099-h-x.log.part"
    stray.write_text("half")
    assert not _chain.verify(str(ws))["ok"]
    later = new(ws)
    later.open("site.yml", "tester")
    later.close("ok")
    assert not stray.exists()
    assert _chain.verify(str(ws))["ok"]


@pytest.fixture
def small_tmpfs(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=192k", "tmpfs", str(mnt)], capture_output=True,
                          text=True, check=False)
    if proc.returncode != 0:
        pytest.fail("cannot mount a tmpfs (the suite runs as root, as make test does): " + proc.stderr)
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_a_real_full_tmpfs_fails_the_run_then_repairs_when_space_returns(small_tmpfs):
    ws = small_tmpfs / "ws"
    a_run(ws)
    filler = small_tmpfs / ("filler-" + uuid.uuid4().hex)
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT)
    try:
        while True:
            os.write(fd, b"x" * 4096)
    except OSError as exc:
        assert exc.errno == errno.ENOSPC
    finally:
        os.close(fd)
    assert attempt(ws), "a run on a full disk must not look recorded"
    filler.unlink()
    later = new(ws)
    later.open("site.yml", "tester")
    later.close("ok")
    report = _chain.verify(str(ws))
    assert report["ok"], report["problems"]
    assert_views_valid(ws)


def test_verify_names_deleted_views_added_logs_and_altered_snapshots(tmp_path):
    from ansible_collections.ssot.governance.plugins.module_utils import _snapshot
    ws = tmp_path / "ws"
    rec = a_run(ws)
    (ws / "project-panel.html").unlink()
    (ws / "logs" / "forged.log").write_text("nothing happened\n")
    kinds = [(p["kind"], p["where"]) for p in _chain.verify(str(ws))["problems"]]
    assert ("view_missing", "project-panel.html") in kinds and ("view_added", "logs/forged.log") in kinds
    # A snapshot as snapshot_capture records it: a flipped byte in any of its files is named by verify.
    folder = ws / "snapshots" / "20261124T000000Z"
    folder.mkdir(parents=True)
    (folder / "pg_dumpall.sql").write_text("-- dump\n")
    files = [{"name": "pg_dumpall.sql", "size": 8, "sha256": _snapshot.sha256_file(str(folder / "pg_dumpall.sql"))[1],
              "kind": "dump"}]
    _snapshot.write_manifest(str(folder), files, {}, {})
    rec2 = new(ws)
    rec2.open("snapshot.yml", "tester")
    rec2.start_play("p", [{"id": "s", "name": "Capture", "role": "ssot.governance.snapshot", "phase": 6}])
    rec2.start_task({"id": "s", "name": "Capture", "role": "ssot.governance.snapshot", "phase": 6})
    rec2.result({"step": "s", "host": "h", "status": "changed", "result": {
        "dest": str(folder), "manifest_sha256": _snapshot.sha256_file(str(folder / "manifest.json"))[1]}})
    rec2.close("ok")
    report = _chain.verify(str(ws))
    assert report["snapshots_checked"] == 1
    assert not [p for p in report["problems"] if p["kind"].startswith("snapshot")]
    (folder / "pg_dumpall.sql").write_text("-- dumq\n")
    problems = [(p["kind"], p["where"]) for p in _chain.verify(str(ws))["problems"]]
    assert ("snapshot_altered", "snapshots/20261124T000000Z/pg_dumpall.sql") in problems
