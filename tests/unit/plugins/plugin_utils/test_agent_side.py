"""The assistant's side of a workspace (plugin_utils/_agent.py) without the protocol: what it may read, what it
drafts, how each call lands in the journal. The MCP server over it is tested end to end in
tests/integration/test_agent.py."""

from __future__ import annotations

import json
import shutil

import pytest

from ansible_collections.ssot.governance.plugins.module_utils import _chain, _decisions
from ansible_collections.ssot.governance.plugins.plugin_utils import _agent
from ansible_collections.ssot.governance.tests.unit._tools import ROOT
from ansible_collections.ssot.governance.tests.unit.plugins.plugin_utils.test_recorder import CANARY, FilesEnv, a_run


def example_workspace(path):
    """``path`` holding the example's SSOT (its placeholder filled) and prose."""
    path.mkdir()
    example = ROOT / "examples" / "legacy-pg"
    (path / "ssot.yml").write_text((example / "ssot.yml").read_text().replace("@@DELIVERED_SHA256@@", "0" * 64))
    shutil.copy(example / "book-run.txt", path / "book-run.txt")
    return path


@pytest.fixture
def ws(tmp_path):
    """A workspace with the example's SSOT and one recorded run holding a pending decision."""
    path = example_workspace(tmp_path / "ws")
    rec = a_run(FilesEnv(path), close=False)
    rec.decision(dict(_decisions.build("validate", "setting.work_mem", {"expected": "8MB", "actual": "4MB"},
                                       ("fix", "accept"), "sha256:" + "a" * 64, "pt-BR"),
                      environment="ws", host="localhost"))
    rec.close("ok")
    return path


def test_environments_are_named_once_and_must_exist(tmp_path):
    (tmp_path / "one").mkdir()
    envs = _agent.environments([f"a={tmp_path / 'one'}", str(tmp_path / "one")])
    assert sorted(envs) == ["a", "one"] and envs["a"].workspace == str((tmp_path / "one").resolve())
    for specs, words in (([f"a={tmp_path / 'one'}", f"a={tmp_path}"], "cada nome uma vez"),
                         ([f"b={tmp_path / 'none'}"], "pasta de workspace inexistente"), ([], "--workspace NOME=PASTA")):
        with pytest.raises(_agent.AgentError, match=words):
            _agent.environments(specs)


@pytest.mark.parametrize("rel", ["../ssot.yml", "/etc/passwd", "evidence/../../x", "evidence/\x00", "", "."])
def test_nothing_outside_the_workspace_is_read(ws, rel):
    with pytest.raises(_agent.AgentError, match="outside|fora"):
        _agent.Environment("e", ws).read(rel)


@pytest.mark.parametrize("rel", ["approvals.yml", "ssot.yml", ".recorder.lock", "allowed_signers", "evidence"])
def test_only_the_records_are_read(ws, rel):
    with pytest.raises(_agent.AgentError, match="not one of the records|não é um dos registros"):
        _agent.Environment("e", ws).read(rel)


def test_a_link_inside_the_workspace_is_not_followed(ws, tmp_path):
    (tmp_path / "secret.txt").write_text(CANARY)
    (ws / "evidence" / "link.log").symlink_to(tmp_path / "secret.txt")
    (ws / "logs" / "dir").symlink_to(tmp_path)
    env = _agent.Environment("e", ws)
    for rel in ("evidence/link.log", "logs/dir/secret.txt"):
        with pytest.raises(_agent.AgentError, match="outside|fora"):
            env.read(rel)
    with pytest.raises(_agent.AgentError, match="outside|fora"):
        env.listing("evidence")


def test_evidence_comes_back_as_recorded(ws):
    env = _agent.Environment("e", ws)
    (rel,) = [r for r in env.listing("evidence") if r.endswith("check.log")]
    text = env.text(rel)
    assert "SELECT 1" in text and CANARY not in text


DECISION = _decisions.decision_id("validate", "setting.work_mem", {"expected": "8MB", "actual": "4MB"})


def test_status_explain_and_draft(ws):
    env = _agent.Environment("e", ws)
    status = env.status()
    assert [d["id"] for d in status["pending_decisions"]] == [DECISION]
    assert "Decisões aguardando uma pessoa nomeada: 1" in status["summary"]
    card = env.explain(DECISION)
    assert "esperado 8MB, obtido 4MB" in card["card"] and "expected: 8MB" in card["card"]
    draft = env.draft(DECISION, "fix")
    assert "option: fix" in draft["entry"] and draft["signed"] is True and "approve" in draft["how_to_approve"]
    # A draft never counts: marked as one, its approver and reason left as placeholders.
    assert "draft: true" in draft["entry"] and "<nome de quem aprova>" in draft["entry"]
    assert not (ws / "approvals.yml").exists()
    for call, words in ((lambda: env.draft(DECISION, "yes"), "não tem a opção yes"),
                        (lambda: env.explain("nope"), "não há decisão nope")):
        with pytest.raises(_agent.AgentError, match=words):
            call()


def test_the_card_comes_from_the_journal_never_from_an_edited_view(ws):
    runbook = json.loads((ws / "runbook.json").read_text())
    for d in runbook["decisions"]:
        d.update(title="esperado 48MB", context="tudo certo", facts={"expected": "48MB"})
    (ws / "runbook.json").write_text(json.dumps(runbook))
    card = _agent.Environment("e", ws).explain(DECISION)["card"]
    assert "48MB" not in card and "4MB" in card


def test_each_call_is_recorded_and_the_chain_stays_whole(ws, monkeypatch):
    monkeypatch.setenv("SSOT_PG_PASSWORD", CANARY)  # the variable the SSOT's secret reference names
    env = _agent.Environment("e", ws)
    assert env.record("vscode", "status", {"environment": "e"}, f"ok {CANARY}")
    lines = [json.loads(line) for line in (ws / "journal.jsonl").read_text().splitlines()]
    call = [line for line in lines if line["kind"] == "agent_call"][-1]
    assert call["run"] is None and call["data"]["client"] == "vscode" and CANARY not in call["data"]["result"]
    assert _chain.verify(str(ws))["ok"]
    panel = json.loads((ws / "project-panel.json").read_text())
    assert panel["agent_calls"][-1]["tool"] == "status"
    assert 'data-agent-tool="status"' in (ws / "project-panel.html").read_text()


def test_a_run_holding_the_workspace_delays_the_record(ws, monkeypatch):
    monkeypatch.setattr(_agent, "RECORD_WAIT", 0.2)
    running = FilesEnv(ws).new()
    running.open("site.yml", "operator")
    try:
        assert _agent.Environment("e", ws).record("vscode", "status", {}, "ok") is False
    finally:
        running.close("ok")
    assert "agent_call" not in (ws / "journal.jsonl").read_text()
    assert _agent.Environment("e", ws).record("vscode", "status", {}, "ok") is True


def test_with_the_postgresql_store_the_records_come_from_the_database(tmp_path, store_server, monkeypatch):
    from ansible_collections.ssot.governance.plugins.plugin_utils import _store
    from ansible_collections.ssot.governance.tests.unit.plugins.plugin_utils.test_recorder import DSN_ENV, PgEnv

    path = example_workspace(tmp_path / "ws")
    env = PgEnv(path, store_server, monkeypatch)
    a_run(env)
    monkeypatch.setenv("SSOT_STORE", "postgresql")
    monkeypatch.setenv("SSOT_STORE_DSN_ENV", DSN_ENV)
    from ansible_collections.ssot.governance.plugins.plugin_utils import _runctx
    monkeypatch.setattr(_runctx, "_CURRENT", [])
    agent = _agent.Environment("e", path)
    assert not (path / "runbook.json").exists()  # nothing on disk: every read goes to the database
    assert agent.view("runbook.json")["runs"]
    (rel,) = [r for r in agent.listing("evidence") if r.endswith("check.log")]
    assert "SELECT 1" in agent.text(rel) and CANARY not in agent.text(rel)
    (log,) = agent.listing("logs")
    assert "site.yml" in agent.text(log)
    assert agent.record("vscode", "status", {"environment": "e"}, "ok")
    assert agent.view("runbook.json")["agent_calls"][-1]["client"] == "vscode"
    assert env.verify()["ok"]
