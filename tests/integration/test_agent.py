"""The MCP server an assistant uses beside the operator (agent/server.py), driven by the MCP SDK's own stdio client,
against a real workspace after real runs: provision and validate of the legacy PostgreSQL 10.23 container, whose
SSOT asks work_mem 8MB while the server runs 4MB (a deviation with a pending decision).

It reads, validates, verifies, explains and drafts; it never approves, signs, writes approvals.yml, runs a play that
changes anything or passes tags - each attempt is refused with the workspace unchanged, byte for byte. The server's
environment holds the SSOT's password (the test's canary): no answer ever carries it."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import sys

import pytest
import yaml
from _support import PASSWORD, ROOT, VENV_BIN, docker, free_port, run_playbook, write_workspace
from mcp import Client
from mcp.client.stdio import StdioServerParameters
from mcp.shared.exceptions import MCPError
from mcp_types import Implementation

ENV = "legado"
CLIENT = "copiloto-de-teste"
# A secret of the server's environment that nothing references: no answer may carry it either.
TOKEN = "Agent-Canary-7f3e-Token"
TOOLS = {"status", "explain_decision", "draft_approval", "run_validate", "run_verify"}


def workspace_hash(path):
    """Every file of the workspace, by name, with its sha256."""
    out = {}
    for base, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(base, name)
            with open(full, "rb") as fh:
                out[os.path.relpath(full, path)] = hashlib.sha256(fh.read()).hexdigest()
    return out


@pytest.fixture(scope="module")
def workspace(legacy_image, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("agent")
    name = f"ssot-it-agent-{tmp.name[-6:]}"

    def edit(doc):
        doc["postgres"]["settings"]["work_mem"] = "8MB"  # the example's deviation: a pending decision
    ws = write_workspace(tmp / "ws", legacy_image, name, free_port(), edit)
    try:
        for playbook in ("provision", "validate"):
            done = run_playbook(f"ssot.governance.{playbook}", ws)
            assert playbook == "validate" or done.returncode == 0, done.stdout[-3000:]
        yield ws
    finally:
        docker("rm", "-f", "-v", name, check=False)


def session(ws, body):
    """Run ``body(client)`` against the server started over stdio for ``ws``, as an MCP client starts it."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / ".collections"), ANSIBLE_COLLECTIONS_PATH=str(ROOT / ".collections"),
               ANSIBLE_CONFIG=str(ws.path / "ansible.cfg"), SSOT_PG_PASSWORD=PASSWORD, SSOT_API_TOKEN=TOKEN,
               PATH=f"{VENV_BIN}:{os.environ.get('PATH', '')}")
    params = StdioServerParameters(command=sys.executable, env=env, cwd=str(ws.path),
                                   args=["-m", "ansible_collections.ssot.governance.agent", "--workspace",
                                         f"{ENV}={ws.path}"])

    async def main():
        async with Client(params, client_info=Implementation(name=CLIENT, version="1.0"),
                          read_timeout_seconds=900) as client:
            return await body(client)
    return asyncio.run(main())


def texts(result):
    """Everything a tool result or resource read carries, as one string (to look for the canary)."""
    if hasattr(result, "contents"):
        return "\n".join(getattr(c, "text", "") or "" for c in result.contents)
    return json.dumps(result.structured_content, ensure_ascii=False) + "\n".join(
        getattr(c, "text", "") or "" for c in result.content)


def pending_work_mem(items):
    return [d for d in items if d["id"].startswith("validate.setting.work_mem.")]


def test_status_explain_draft_and_every_resource(workspace):
    ws = workspace
    approvals_before = (ws.path / "approvals.yml").read_bytes() if (ws.path / "approvals.yml").exists() else None

    async def body(client):
        seen = []
        tools = {t.name for t in (await client.list_tools()).tools}
        status = await client.call_tool("status", {"environment": ENV})
        seen.append(texts(status))
        assert not status.is_error, texts(status)
        s = status.structured_content
        (decision,) = pending_work_mem(s["pending_decisions"])
        assert s["language"] == "pt-BR" and "Decisões aguardando uma pessoa nomeada: 1" in s["summary"]
        assert [m["phase"] for m in s["milestones"]][:4] == [0, 1, 2, 3]
        card = await client.call_tool("explain_decision", {"environment": ENV, "decision": decision["id"]})
        seen.append(texts(card))
        c = card.structured_content
        assert "8MB" in c["card"] and "4MB" in c["card"] and c["decision"]["options"]
        assert c["ssot_sections"] and any("work_mem" in sec["text"] for sec in c["ssot_sections"])
        draft = await client.call_tool("draft_approval", {"environment": ENV, "decision": decision["id"],
                                                          "option": "fix"})
        seen.append(texts(draft))
        d = draft.structured_content
        entry = yaml.safe_load(d["entry"])["approvals"][0]
        assert entry["decision"] == decision["id"] and entry["option"] == "fix"
        assert entry["ssot_digest"] == s["ssot"]["digest"] and "O assistente não escreveu nada" in d["note"]
        # Resources: the SSOT normalized with its digest, the views, the checklist, the journal, logs, evidence.
        uris = [f"ssot://{ENV}/ssot", f"ssot://{ENV}/runbook.json", f"ssot://{ENV}/project-panel.json",
                f"ssot://{ENV}/checklist", f"ssot://{ENV}/journal/tail", f"ssot://{ENV}/logs", f"ssot://{ENV}/evidence",
                "ssot://environments"]
        read = {}
        for uri in uris:
            read[uri] = await client.read_resource(uri)
            seen.append(texts(read[uri]))
        doc = json.loads(texts(read[f"ssot://{ENV}/ssot"]))
        assert doc["digest"] == s["ssot"]["digest"] and doc["ssot"]["postgres"]["settings"]["work_mem"] == "8MB"
        assert doc["ssot"]["target"]["connection"]["password"] == {"env": "SSOT_PG_PASSWORD"}
        evidence = json.loads(texts(read[f"ssot://{ENV}/evidence"]))
        logs = json.loads(texts(read[f"ssot://{ENV}/logs"]))
        assert evidence and logs
        for rel in evidence:  # every evidence file, container inspect with its Env among them
            seen.append(texts(await client.read_resource(f"ssot://{ENV}/{rel}")))
        seen.append(texts(await client.read_resource(f"ssot://{ENV}/{logs[-1]}")))
        assert json.loads(texts(read[f"ssot://{ENV}/journal/tail"]))[-1]["hash"]
        return tools, seen, decision["id"]

    tools, seen, decision_id = session(ws, body)
    assert tools == TOOLS
    everything = "\n".join(seen)
    assert PASSWORD not in everything, "the SSOT's password reached an answer"
    assert TOKEN not in everything, "a value of the server's environment reached an answer"
    assert "inspect" in everything and "********" in everything  # the recorder's masks, passed on as they are
    # Nothing approved, nothing written to approvals.yml; each tool call is in the journal with the client's name.
    after = (ws.path / "approvals.yml").read_bytes() if (ws.path / "approvals.yml").exists() else None
    assert after == approvals_before
    calls = [json.loads(line) for line in (ws.path / "journal.jsonl").read_text().splitlines()
             if '"kind":"agent_call"' in line]
    assert [(c["data"]["client"], c["data"]["tool"]) for c in calls] == [
        (CLIENT, "status"), (CLIENT, "explain_decision"), (CLIENT, "draft_approval")]
    panel = json.loads((ws.path / "project-panel.json").read_text())
    assert [c["tool"] for c in panel["agent_calls"]] == ["status", "explain_decision", "draft_approval"]
    assert 'data-agent-tool="draft_approval"' in (ws.path / "project-panel.html").read_text()
    runbook = json.loads((ws.path / "runbook.json").read_text())
    assert [d["status"] for d in runbook["decisions"] if d["id"] == decision_id] == ["pending"]


FORBIDDEN_TOOLS = [
    ("approve", {"environment": ENV, "decision": "x", "option": "fix"}),
    ("sign", {"environment": ENV}),
    ("write_approvals", {"environment": ENV, "content": "approvals: []"}),
    ("run_modify", {"environment": ENV}),
    ("run_playbook", {"environment": ENV, "playbook": "ssot.governance.ingest"}),
    ("run_validate", {"environment": ENV, "tags": "modify"}),
    ("run_validate", {"environment": ENV, "playbook": "ssot.governance.modify"}),
    ("run_validate", {"environment": ENV, "extravars": {"ssot_approvals": [{"decision": "x"}]}}),
    ("run_verify", {"environment": ENV, "cmdline": "--tags modify"}),
    ("draft_approval", {"environment": ENV, "decision": "x", "option": "fix", "approved_by": "Ana", "write": True}),
    ("status", {"environment": ENV, "env": "SSOT_PG_PASSWORD"}),
]
OUTSIDE = ["ssot://{e}/evidence/../../approvals.yml", "ssot://{e}/evidence/..%2F..%2Fssot.yml",
           "ssot://{e}/evidence/%2Fetc%2Fpasswd", "ssot://{e}/logs/..%2F..%2F..%2Fetc%2Fpasswd",
           "ssot://{e}/evidence/../../../../../../etc/passwd", "ssot://other/runbook.json"]


def test_forbidden_actions_are_refused_and_change_nothing(workspace):
    ws = workspace
    # A link planted inside the workspace is not followed either.
    link = ws.path / "evidence" / "planted"
    link.symlink_to("/etc")
    before = workspace_hash(ws.path)

    async def body(client):
        refusals = []
        for name, args in FORBIDDEN_TOOLS:
            try:
                result = await client.call_tool(name, args)
            except MCPError as exc:
                refusals.append((name, str(exc)))
                continue
            assert result.is_error, f"{name} {args} was not refused: {texts(result)}"
            refusals.append((name, texts(result)))
        for uri in OUTSIDE + [f"ssot://{ENV}/evidence/planted/passwd"]:
            try:
                got = await client.read_resource(uri.format(e=ENV))
            except MCPError as exc:
                refusals.append((uri, str(exc)))
                continue
            pytest.fail(f"{uri} was read: {texts(got)[:200]}")
        return refusals

    try:
        refusals = session(ws, body)
    finally:
        link.unlink()
    assert workspace_hash(ws.path) == before, "a refused action changed the workspace"
    assert len(refusals) == len(FORBIDDEN_TOOLS) + len(OUTSIDE) + 1
    words = dict(refusals)
    assert "não aceita tags" in words["run_validate"] or "não aceita" in words["run_validate"]
    assert any("fora do que o assistente pode ler" in text for uri, text in refusals if uri.startswith("ssot://"))
    assert any("não há o ambiente other" in text for uri, text in refusals)
    assert all(PASSWORD not in text and TOKEN not in text for dummy, text in refusals)


def test_run_validate_reports_the_pending_decision_and_the_gate_stays_closed(workspace):
    ws = workspace

    async def body(client):
        progress = []

        async def on_progress(done, total, message):
            progress.append((done, message))
        result = await client.call_tool("run_validate", {"environment": ENV}, progress_callback=on_progress)
        verify = await client.call_tool("run_verify", {"environment": ENV})
        return result, verify, progress

    result, verify, progress = session(ws, body)
    r = result.structured_content
    assert not result.is_error and r["playbook"] == "ssot.governance.validate" and r["run"]
    assert pending_work_mem(r["pending_decisions"]), r
    assert r["evidence"] == f"evidence/{r['run']}/" and (ws.path / r["evidence"]).is_dir()
    assert len(progress) >= 5 and progress[-1][0] >= progress[0][0]
    assert PASSWORD not in texts(result) + texts(verify) and TOKEN not in texts(result) + texts(verify)
    # The gate stays closed: the decision still pending, the server still at 4MB, no approval anywhere.
    runbook = json.loads((ws.path / "runbook.json").read_text())
    assert [d["status"] for d in runbook["decisions"] if d["id"].startswith("validate.setting.work_mem.")][-1] == \
        "pending"
    shown = docker("exec", ws.container, "psql", "-U", "postgres", "-Atc", "SHOW work_mem").stdout.strip()
    assert shown == "4MB"
    assert not (ws.path / "approvals.yml").exists() or "work_mem" not in (ws.path / "approvals.yml").read_text()
    run = [x for x in runbook["runs"] if x["id"] == r["run"]][0]
    assert run["playbook"] == "validate.yml" and not run.get("tags")
    # verify re-walked the chain with the assistant's own records in it, and found it whole.
    v = verify.structured_content
    assert not verify.is_error and v["run_status"] == "ok", v
    calls = [c for c in runbook.get("agent_calls") or [] if c["tool"] == "run_validate"]
    assert calls and calls[-1]["run"] == r["run"] and calls[-1]["client"] == CLIENT
