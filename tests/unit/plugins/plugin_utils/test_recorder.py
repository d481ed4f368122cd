"""The recorder's file I/O, in isolation (no Ansible run)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import jsonschema
import pytest
from referencing import Registry, Resource

from ansible_collections.ssot.governance.plugins.module_utils import _chain
from ansible_collections.ssot.governance.plugins.plugin_utils._recorder import Recorder, WorkspaceBusy
from ansible_collections.ssot.governance.plugins.plugin_utils._redact import Redactor
from ansible_collections.ssot.governance.plugins.plugin_utils import _events

ROOT = Path(__file__).resolve().parents[4]
CANARY = "Canary-9d1e-Secret"
SCHEMAS = {n: json.loads((ROOT / "schemas" / f"{n}.schema.json").read_text()) for n in ("runbook", "project-panel")}
REGISTRY = Registry().with_resources([(s["$id"], Resource.from_contents(s)) for s in SCHEMAS.values()])


def assert_views_valid(ws: Path):
    for name, schema in (("runbook.json", "runbook"), ("project-panel.json", "project-panel")):
        doc = json.loads((ws / name).read_text())
        errors = list(jsonschema.Draft202012Validator(SCHEMAS[schema], registry=REGISTRY).iter_errors(doc))
        assert not errors, [(list(e.absolute_path), e.message) for e in errors[:3]]


def new(ws, **kw):
    return Recorder(str(ws), redactor=Redactor(environ={}), **kw)


def a_run(ws, fail=False, close=True):
    rec = new(ws)
    rec.open("site.yml", "tester")
    plan = [{"id": "s1", "name": "Load", "role": "ssot.governance.ssot", "phase": 0},
            {"id": "s2", "name": "Check", "role": "ssot.governance.validate", "phase": 3},
            {"id": "s3", "name": "Later", "role": "ssot.governance.validate", "phase": 3}]
    rec.start_play("play", plan)
    rec.start_task(plan[0])
    rec.result({"step": "s1", "host": "h", "status": "ok", "result": {"password": CANARY}})
    rec.ssot_loaded({"path": str(ws / "ssot.yml"), "digest": "sha256:" + "a" * 64, "language": "en",
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


def test_a_run_leaves_a_verifiable_journal_and_valid_views(tmp_path):
    rec = a_run(tmp_path)
    report = _chain.verify(str(tmp_path))
    assert report["ok"], report["problems"]
    assert report["evidence_checked"] == 1 and report["views_checked"] == 5
    assert_views_valid(tmp_path)
    runbook = json.loads((tmp_path / "runbook.json").read_text())
    assert [s["status"] for s in runbook["steps"]] == ["done", "done", "pending"], "plan shown before it runs"
    assert runbook["ssot"]["digest"] == "sha256:" + "a" * 64
    assert runbook["runs"][0]["status"] == "ok" and runbook["runs"][0]["id"] == rec.run_id
    panel = json.loads((tmp_path / "project-panel.json").read_text())
    assert panel["milestones"][3]["status"] == "done" and panel["milestones"][3]["title"] == "Validation (SSOT)"
    assert panel["deviations"] == [{"id": "setting.wal_level", "title": "setting.wal_level", "severity": "medium",
                                    "expected": "logical", "actual": "replica"}]
    assert panel["references"] == [{"url": "https://x"}]
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert CANARY not in path.read_text(errors="replace"), path


def test_a_failed_step_becomes_a_next_step(tmp_path):
    a_run(tmp_path, fail=True)
    runbook = json.loads((tmp_path / "runbook.json").read_text())
    assert runbook["steps"][1]["status"] == "failed"
    assert any("Check" in n and "boom" in n for n in runbook["checkpoints"][-1]["next_steps"])
    panel = json.loads((tmp_path / "project-panel.json").read_text())
    assert panel["milestones"][3]["status"] == "failed"


def test_resume_keeps_history_and_done_steps(tmp_path):
    first = a_run(tmp_path)
    second = new(tmp_path)
    second.open("site.yml", "tester")
    second.start_play("play", [{"id": "s3", "name": "Later", "role": None, "phase": None}])
    second.close("ok")
    runbook = json.loads((tmp_path / "runbook.json").read_text())
    assert [r["id"] for r in runbook["runs"]] == [first.run_id, second.run_id]
    steps = {s["id"]: s for s in runbook["steps"]}
    assert steps["s1"]["status"] == "done" and steps["s1"]["run_id"] == first.run_id
    assert _chain.verify(str(tmp_path))["ok"]


def test_a_dead_run_is_marked_interrupted_by_the_next(tmp_path):
    dead = a_run(tmp_path, close=False)
    os.close(dead._journal)
    dead._release_lock()  # what the kernel does when the process dies
    nxt = new(tmp_path)
    nxt.open("site.yml", "tester")
    nxt.close("ok")
    runbook = json.loads((tmp_path / "runbook.json").read_text())
    statuses = {r["id"]: r["status"] for r in runbook["runs"]}
    assert statuses == {dead.run_id: "interrupted", nxt.run_id: "ok"}
    # The next run names what the dead one was doing, in the runbook, its warnings and its log.
    died = next(r for r in runbook["runs"] if r["id"] == dead.run_id)
    assert died["during"] == ["Later"] or died["during"] == ["Check"], died
    assert any(dead.run_id in w and died["during"][0] in w for w in nxt.warnings), nxt.warnings
    log = (tmp_path / "logs" / ("%s.log" % nxt.run_id)).read_text()
    assert dead.run_id in log and died["during"][0] in log
    assert _chain.verify(str(tmp_path))["ok"]
    assert_views_valid(tmp_path)


def test_interrupt_marks_the_running_step_failed(tmp_path):
    rec = a_run(tmp_path, close=False)
    rec.start_task({"id": "s3", "name": "Later", "role": None, "phase": None})
    rec.interrupt("signal SIGTERM")
    runbook = json.loads((tmp_path / "runbook.json").read_text())
    assert runbook["runs"][-1]["status"] == "interrupted"
    assert {s["id"]: s["status"] for s in runbook["steps"]}["s3"] == "failed"
    assert_views_valid(tmp_path)


def test_a_second_run_is_refused_while_one_is_active(tmp_path):
    rec = a_run(tmp_path, close=False)
    with pytest.raises(WorkspaceBusy, match=rf"em uso por outra execução \(pid \d+, run {rec.run_id}"):
        new(tmp_path).open("other.yml", "someone")
    rec.close("ok")
    assert _chain.verify(str(tmp_path))["ok"]


def test_a_torn_last_line_is_moved_aside(tmp_path):
    a_run(tmp_path)
    with open(tmp_path / "journal.jsonl", "ab") as fh:
        fh.write(b'{"seq": 999, "half')
    rec = new(tmp_path)
    rec.open("site.yml", "tester")
    rec.close("ok")
    assert any("journal.jsonl.torn-" in w and "18 bytes" in w for w in rec.warnings), rec.warnings
    assert list(tmp_path.glob("journal.jsonl.torn-*"))
    assert _chain.verify(str(tmp_path))["ok"]


def flip(path: Path, needle: bytes):
    data = bytearray(path.read_bytes())
    i = data.index(needle)
    data[i] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("target, needle, kind", [
    ("journal", b"task_start", "journal_altered"),
    ("evidence", b"SELECT", "evidence_altered"),
    ("runbook.json", b'"status"', "view_altered"),
    ("project-panel.json", b'"milestones"', "view_altered"),
])
def test_verify_names_what_was_altered(tmp_path, target, needle, kind):
    a_run(tmp_path)
    if target == "journal":
        path = tmp_path / "journal.jsonl"
    elif target == "evidence":
        path = next(tmp_path.glob("evidence/*/*check.log"))
    else:
        path = tmp_path / target
    flip(path, needle)
    report = _chain.verify(str(tmp_path))
    assert not report["ok"]
    first = report["problems"][0]
    assert first["kind"] == kind
    if target == "journal":
        lines = (tmp_path / "journal.jsonl").read_bytes().splitlines()
        number = next(i for i, line in enumerate(lines, 1) if b'"uask_start"' in line)
        assert first["where"] == f"journal.jsonl:{number}"
    else:
        assert first["where"] == str(path.relative_to(tmp_path))


def test_verify_names_removed_and_added_evidence_and_removed_lines(tmp_path):
    a_run(tmp_path)
    ev = next(tmp_path.glob("evidence/*/*check.log"))
    ev.unlink()
    (ev.parent / "planted.log").write_text("not recorded")
    report = _chain.verify(str(tmp_path))
    kinds = {(p["kind"], Path(p["where"]).name) for p in report["problems"]}
    assert ("evidence_missing", ev.name) in kinds and ("evidence_added", "planted.log") in kinds
    lines = (tmp_path / "journal.jsonl").read_bytes().splitlines(keepends=True)
    (tmp_path / "journal.jsonl").write_bytes(b"".join(lines[:3] + lines[4:]))
    first = _chain.verify(str(tmp_path), lang="en")["problems"][0]
    assert first == {"kind": "journal_altered", "where": "journal.jsonl:4",
                     "detail": "sequence 5 where 4 was due (line removed or added)"}
    # In the operator's language: PT-BR by default.
    assert _chain.verify(str(tmp_path))["problems"][0]["detail"] == (
        "sequência 5 onde se esperava 4 (linha removida ou acrescentada)")


def test_the_writer_process_records_in_order_and_finishes(tmp_path):
    from ansible_collections.ssot.governance.plugins.plugin_utils._recorder import WriterProcess

    rec = new(tmp_path)
    rec.open("site.yml", "tester")
    writer = WriterProcess(rec)
    plan = [{"id": "s%d" % i, "name": "t%d" % i, "role": None, "phase": None} for i in range(50)]
    writer.send(_events.StartPlay("play", plan))
    for step in plan:
        writer.send(_events.StartTask(step))
        for host in ("a", "b"):
            writer.send(_events.Result({"step": step["id"], "host": host, "status": "ok", "result": {"token": CANARY}}))
    writer.send(_events.Evidence("x.log", "x" * 100000, "s1", "a", "t1"))
    writer.finish(_events.Close("ok", {}))
    assert _chain.verify(str(tmp_path))["ok"]
    assert_views_valid(tmp_path)
    runbook = json.loads((tmp_path / "runbook.json").read_text())
    assert [s["status"] for s in runbook["steps"]] == ["done"] * 50 and runbook["runs"][-1]["status"] == "ok"
    assert CANARY not in (tmp_path / "journal.jsonl").read_text()
    writer.finish(_events.Close("ok", {}))  # a second finish is a no-op


def test_the_writer_process_stops_writing_when_its_parent_is_gone(tmp_path):
    import os
    import time

    from ansible_collections.ssot.governance.plugins.plugin_utils._recorder import WriterProcess

    rec = new(tmp_path)
    rec.open("site.yml", "tester")
    writer = WriterProcess(rec)
    writer.send(_events.StartPlay("play", []))
    os.close(writer._fd)  # what a parent killed outright leaves: the end of the pipe
    writer._fd = None
    deadline = time.time() + 10
    while time.time() < deadline and os.waitpid(writer.pid, os.WNOHANG)[0] == 0:
        time.sleep(0.05)
    assert time.time() < deadline, "the writer did not exit"
    runbook = json.loads((tmp_path / "runbook.json").read_text())
    assert runbook["runs"][-1]["status"] == "running", "left for the next run to mark interrupted"
    assert _chain.verify(str(tmp_path))["ok"]


def test_a_signal_during_a_line_is_recorded_after_the_line(tmp_path):
    from ansible_collections.ssot.governance.plugins.plugin_utils._recorder import InProcess

    rec = new(tmp_path)
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
    assert rec.closed and _chain.verify(str(tmp_path))["ok"]
    runbook = json.loads((tmp_path / "runbook.json").read_text())
    assert runbook["runs"][-1]["status"] == "interrupted"


def _validation_run(ws, checks, findings):
    rec = new(ws)
    rec.open("validate.yml", "tester")
    plan = [{"id": "v1", "name": "Check", "role": "ssot.governance.validate", "phase": 3}]
    rec.start_play("play", plan)
    rec.start_task(plan[0])
    rec.result({"step": "v1", "host": "h", "status": "ok", "result": {}})
    rec.deviations(checks)
    rec.findings(findings)
    rec.close("ok")
    return json.loads((ws / "project-panel.json").read_text())


def test_drift_names_what_changed_since_the_last_validation(tmp_path):
    match = {"id": "setting.work_mem", "status": "match", "expected": "4MB", "actual": "4MB"}
    trust = {"id": "finding.trust", "code": "trust", "severity": "high", "title": "trust"}
    sizes = {"id": "finding.sizes", "code": "sizes", "severity": "info", "title": "sizes"}
    first = _validation_run(tmp_path, [match], [sizes])
    assert "drift" not in first  # nothing to compare with yet
    same = _validation_run(tmp_path, [match], [sizes])
    assert same["drift"]["changes"] == []
    changed = _validation_run(tmp_path, [dict(match, status="deviation", actual="64MB")], [trust])
    changes = {c["id"]: c for c in changed["drift"]["changes"]}
    assert changes["setting.work_mem"]["before"] == {"status": "match", "actual": "4MB"}
    assert changes["setting.work_mem"]["after"] == {"status": "deviation", "actual": "64MB"}
    assert changes["finding.trust"]["before"] is None and changes["finding.sizes"]["after"] is None
    assert [f["id"] for f in changed["findings"]] == ["finding.trust"]
    assert changed["drift"]["title"] and changed["drift"]["run_id"] != same["drift"]["run_id"]
    assert_views_valid(tmp_path)
    # The views are rebuilt from the journal alone: a fresh state replays to the same drift.
    again = _validation_run(tmp_path, [dict(match, status="deviation", actual="64MB")], [trust])
    assert again["drift"]["changes"] == []
    assert _chain.verify(str(tmp_path))["ok"]
