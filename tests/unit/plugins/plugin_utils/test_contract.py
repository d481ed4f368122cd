"""The module -> recorder contract (schemas/result.schema.json): the builder's records keep it, the callback keeps
only records that do and is loud about the others (the run's record fails), the writer dispatches typed events, and
rollback data is a journal record read back by the rollback lookup."""

from __future__ import annotations

import json
import types

import pytest

from ansible_collections.ssot.governance.plugins.module_utils import _chain, _model, _result
from ansible_collections.ssot.governance.plugins.plugin_utils import _contract, _events, _runctx
from ansible_collections.ssot.governance.plugins.plugin_utils._recorder import Recorder, dispatch
from ansible_collections.ssot.governance.plugins.plugin_utils._writers import InProcess

DIGEST = "sha256:" + "a" * 64
DECISION = {"id": "validate.setting.x.1a2b", "phase": 3, "title": "x", "options": [{"id": "fix", "label": "A"}],
            "ssot_digest": DIGEST, "status": "pending", "how_to_approve": "approvals.yml"}


def attested(data, host="h"):
    """A result as a controller action of this run returns it (its records attested)."""
    _runctx.start()
    return _runctx.attest(data, host)


def test_the_builder_makes_records_the_contract_accepts():
    records = {"evidence": [_result.evidence("a.log", text="x"), _result.evidence("a.json", content={"k": 1})],
               "milestone": _result.milestone("validate", "blocked", ["approve"], title="t"),
               "snapshot": _result.snapshot("/ws/snapshots/1/", status="verified", files=3),
               "rollback": _result.rollback("ingest", "point", {"target": "pg"}),
               "ssot_loaded": _result.ssot_loaded("/ws/ssot.yml", DIGEST, "en"), "decisions": [DECISION],
               "checks": [{"id": "setting.x", "status": "deviation", "severity": "high"}],
               "findings": [{"id": "finding.trust", "severity": "critical", "title": "trust"}]}
    assert _contract.problems(records) == []
    assert records["milestone"]["phase"] == _model.phase("validate").number
    assert records["snapshot"]["path"] == "/ws/snapshots/1"


@pytest.mark.parametrize("build", [
    lambda: _result.evidence("a", text="x", content={}), lambda: _result.evidence("a"),
    lambda: _result.milestone("validate", "done"), lambda: _result.milestone("archive", "blocked"),
    lambda: _result.snapshot("/s", status="fine"), lambda: _result.rollback("ingest", "redo"),
    lambda: _result.rollback("tables", "point")])
def test_the_builder_refuses_what_the_contract_would(build):
    with pytest.raises(_model.ModelError):
        build()


@pytest.mark.parametrize("records, where", [
    ({"evidence": {"name": "a", "text": "not in a list"}}, "evidence"),
    ({"evidence": [{"text": "no name"}]}, "evidence.0"),
    ({"evidence": [{"name": "a", "text": "x", "content": {}}]}, "evidence.0"),
    ({"milestone": {"phase": 9, "status": "blocked"}}, "milestone.phase"),
    ({"milestone": {"phase": 3, "status": "done"}}, "milestone.status"),
    ({"decisions": [dict(DECISION, status="maybe")]}, "decisions.0.status"),
    ({"decision": dict(DECISION, phase=None)}, "decision.phase"),
    ({"findings": [{"id": "f", "severity": "catastrophic", "title": "t"}]}, "findings.0.severity"),
    ({"checks": [{"id": "c", "status": "fine"}]}, "checks.0.status"),
    ({"snapshot": {"status": "verified"}}, "snapshot"),
    ({"rollback": {"subject": "ingest", "event": "point", "extra": 1}}, "rollback"),
])
def test_a_malformed_record_is_named_by_where_it_breaks_the_contract(records, where):
    found = _contract.problems(records)
    assert found and found[0].split(":")[0] == where, found


class _Task:
    def __init__(self, action):
        self.action, self._uuid, self.vars, self.no_log, self._role = action, "u1", {}, False, None

    def get_name(self):
        return "a task"

    def get_path(self):
        return "roles/x/tasks/main.yml:1"


def _callback(tmp_path, monkeypatch):
    from ansible_collections.ssot.governance.plugins.callback import runbook
    warnings = []
    monkeypatch.setattr(runbook.display, "warning", lambda msg, *a, **k: warnings.append(msg))
    cb = runbook.CallbackModule()
    cb._language = "en"
    rec = Recorder(str(tmp_path), "en")
    rec.open("site.yml", "tester")
    writer = InProcess(rec)
    cb.fleet.add(str(tmp_path), writer, ["h"])
    writer.send(_events.StartPlay("p", []))
    return cb, rec, warnings


def _result_of(action, data):
    return types.SimpleNamespace(task=_Task(action), host=types.SimpleNamespace(get_name=lambda: "h"),
                                 _return_data=data)


def test_the_callback_keeps_valid_records_and_is_loud_about_a_malformed_one(tmp_path, monkeypatch):
    cb, rec, warnings = _callback(tmp_path, monkeypatch)
    cb._result(_result_of("ssot.governance.pg_check", attested({
        "decisions": [dict(DECISION)], "milestone": _result.milestone("validate", "blocked")})), "ok")
    assert warnings == [] and not cb._record_failed
    cb._result(_result_of("ssot.governance.pg_check", attested({
        "decisions": [dict(DECISION, id="other", phase=42)], "evidence": [_result.evidence("kept.log", text="x")]})),
        "ok")
    assert cb._record_failed == "contract" and len(warnings) == 1
    assert "ssot.governance.pg_check" in warnings[0] and "decisions.0.phase" in warnings[0]
    # Another collection's module: its keys are output, whatever their names - never records, never a warning.
    cb._result(_result_of("acme.db.thing", {"decision": "yes", "evidence": "a string", "milestone": 7}), "ok")
    assert len(warnings) == 1
    rec.close("ok")
    kinds = [json.loads(line) for line in (tmp_path / "journal.jsonl").read_text().splitlines()]
    decisions = [line["data"]["id"] for line in kinds if line["kind"] == "decision"]
    assert decisions == [DECISION["id"]]                      # the malformed result kept nothing of its records
    assert not [line for line in kinds if line["kind"] == "evidence" and line["data"]["name"] == "kept.log"]
    third = [line for line in kinds if line["kind"] == "result"][-1]["data"]["result"]
    assert third == {"decision": "yes", "evidence": "a string", "milestone": 7}
    assert not [line for line in kinds if "attestation" in json.dumps(line["data"])]  # never journaled
    with pytest.raises(SystemExit):
        cb.v2_playbook_on_stats(types.SimpleNamespace(processed={}, summarize=lambda h: {}))


def test_the_writer_dispatches_typed_events_only(tmp_path):
    rec = Recorder(str(tmp_path))
    rec.open("site.yml", "tester")
    dispatch(rec, _events.StartPlay("p", []))
    with pytest.raises(TypeError, match="not a recorder event: tuple"):
        dispatch(rec, ("start_play", "p", []))
    rec.close("ok")


def test_rollback_data_is_its_own_record_read_back_from_the_journal(tmp_path):
    from ansible_collections.ssot.governance.plugins.plugin_utils import _trust, _verified

    def rollback(subject):
        # Without a root requiring seals every chained line is read (the seals' own tests: test_seals.py).
        return _verified.Journal(str(tmp_path), _trust.Rules(None, {}, str(tmp_path), "en"), "en").rollback(subject)
    rec = Recorder(str(tmp_path))
    rec.open("site.yml", "tester")
    assert rollback("ingest")["point"] is None
    rec.rollback(_result.rollback("ingest", "point", {"snapshot": "/s1"}), "s", "h")
    rec.rollback(_result.rollback("ingest", "fingerprint", {"tables": {"db": {"t": {"rows": 1}}}}), "s", "h")
    rec.rollback(_result.rollback("exposure", "point", {"kept_as": "pg-antes"}), "s", "h")
    last = rollback("ingest")
    assert last["point"]["data"] == {"snapshot": "/s1"} and last["point"]["run"] == rec.run_id
    assert last["fingerprint"]["data"]["tables"] == {"db": {"t": {"rows": 1}}} and last["done"] is None
    rec.rollback(_result.rollback("ingest", "done", {"dropped": ["db"]}), "s", "h")
    assert rollback("ingest")["done"]["data"] == {"dropped": ["db"]}
    # A newer change: its own point, nothing after it yet.
    rec.rollback(_result.rollback("ingest", "point", {"snapshot": "/s2"}), "s", "h")
    last = rollback("ingest")
    assert last["point"]["data"] == {"snapshot": "/s2"} and last["fingerprint"] is None and last["done"] is None
    assert rollback("exposure")["point"]["data"] == {"kept_as": "pg-antes"}
    rec.close("ok")
    assert _chain.verify(str(tmp_path))["ok"]


def test_what_a_target_claims_beyond_its_observations_is_refused_and_recorded(tmp_path, monkeypatch):
    """A collection module's result that did not pass through a controller action of this run - a hostile target's
    Python returning whatever it likes - keeps its observations; its claims are refused, and the refusal is a
    record."""
    cb, rec, warnings = _callback(tmp_path, monkeypatch)
    answer = {"option": "fix", "by": "ana@example.org", "at": "2026-11-30T10:00:00Z"}
    claims = {"decisions": [dict(DECISION, status="approved", answer=answer)],
              "snapshot": _result.snapshot("/ws/snapshots/x", status="verified", restore="passed"),
              "rollback": _result.rollback("settings", "point", {"settings": [{"name": "work_mem"}]}),
              "milestone": _result.milestone("validate", "clear"),
              "evidence": [_result.evidence("seen.log", text="what the target saw")]}
    forged = dict(claims, ssot_attestation={"keys": ["decisions"], "mac": "0" * 64})
    for data in (dict(claims), forged, attested(dict(claims), host="another-host")):
        cb._result(_result_of("ssot.governance.pg_check", data), "ok")
    rec.close("ok")
    lines = [json.loads(line) for line in (tmp_path / "journal.jsonl").read_text().splitlines()]
    kinds = [line["kind"] for line in lines]
    assert "decision" not in kinds and "snapshot" not in kinds and "rollback" not in kinds
    assert "milestone" not in kinds
    refused = [line["data"] for line in lines if line["kind"] == "refused"]
    assert sorted(set(r["record"] for r in refused)) == ["decisions", "milestone", "rollback", "snapshot"]
    assert len(refused) == 12 and all(r["module"] == "ssot.governance.pg_check" and r["host"] == "h" for r in refused)
    assert [line["data"]["name"] for line in lines if line["kind"] == "evidence"].count("seen.log") == 3
    assert len(warnings) == 3 and not cb._record_failed


def test_a_decision_record_is_the_runbook_decision():
    from ansible_collections.ssot.governance.plugins.module_utils import _schemas
    record = _schemas.SCHEMAS["result"]["properties"]["decision"]["$ref"]
    assert record == _schemas.SCHEMAS["runbook"]["$id"] + "#/$defs/decision"
    assert "how_to_approve" in _schemas.SCHEMAS["runbook"]["$defs"]["decision"]["properties"]


def test_a_short_action_name_is_resolved_before_deciding_who_speaks_the_contract(tmp_path, monkeypatch):
    """`pg_check:` under `collections: [ssot.governance]` is still the collection's module."""
    cb, rec, warnings = _callback(tmp_path, monkeypatch)
    short = _result_of("pg_check", attested({"decisions": [dict(DECISION)]}))
    short.task.resolved_action = "ssot.governance.pg_check"
    cb._result(short, "ok")
    rec.close("ok")
    kinds = [json.loads(line)["kind"] for line in (tmp_path / "journal.jsonl").read_text().splitlines()]
    assert "decision" in kinds and warnings == []
