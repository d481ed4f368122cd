"""The approve playbook shows the decision as the journal recorded it - only lines whose chain holds and that a valid
seal covers - never runbook.json: an edited view, a forged line or a stale decision is a clear refusal."""

from __future__ import annotations

import hashlib
import json
import types

import pytest

from ansible_collections.ssot.governance.plugins.action.approve import ActionModule, _Refused
from ansible_collections.ssot.governance.plugins.module_utils import _chain, _decisions, _sshsig
from ansible_collections.ssot.governance.plugins.plugin_utils import _trust
from ansible_collections.ssot.governance.plugins.plugin_utils._recorder import Recorder

DIGEST = "sha256:" + "a" * 64
DECISION = dict(_decisions.build("validate", "setting.work_mem", {"expected": "8MB", "actual": "4MB"},
                                 ("fix", "accept"), DIGEST, "en"), environment="ws", host="localhost")


def recorded(ws, seal_key=None, decision=None):
    rec = Recorder(str(ws), "en", seal_key=str(seal_key) if seal_key else None)
    rec.open("validate.yml", "tester")
    rec.decision(dict(decision or DECISION))
    rec.close("ok")


def ctx(ws, signers=(), seals=False, digest=DIGEST):
    root = _trust.Root("/etc/ssot-governance/trust.yml", list(signers), True, seals, {})
    return types.SimpleNamespace(workspace=str(ws), rules=_trust.Rules(root, {}, str(ws), "en"), lang="en",
                                 digest=digest, environment="ws", host="localhost")


def test_the_recorded_decision_is_found_and_an_edited_view_changes_nothing(tmp_path):
    recorded(tmp_path)
    runbook = json.loads((tmp_path / "runbook.json").read_text())
    runbook["decisions"][0].update(title="esperado 48MB", facts={"expected": "48MB"})
    (tmp_path / "runbook.json").write_text(json.dumps(runbook))
    found, host = ActionModule._decision(ctx(tmp_path), DECISION["id"])
    assert found["facts"] == {"expected": "8MB", "actual": "4MB"} and "48MB" not in json.dumps(found)
    assert host == "localhost"


@pytest.mark.parametrize("decision, why", [
    (dict(DECISION, facts={"expected": "8MB", "actual": "48MB"}), "not what its id says"),
    (dict(DECISION, options=[{"id": "rollback", "label": "x"}]), "not what its id says"),
    (dict(DECISION, ssot_digest="sha256:" + "b" * 64), "another version of the SSOT"),
    (dict(DECISION, environment="producao"), "environment producao"),
])
def test_a_decision_that_is_not_what_it_claims_is_a_clear_refusal(tmp_path, decision, why):
    recorded(tmp_path, decision=decision)
    with pytest.raises(_Refused, match=why):
        ActionModule._decision(ctx(tmp_path), DECISION["id"])


def test_an_unknown_decision_is_refused(tmp_path):
    recorded(tmp_path)
    with pytest.raises(_Refused, match="nope"):
        ActionModule._decision(ctx(tmp_path), "nope")


def test_a_chain_valid_line_appended_after_the_last_seal_is_never_shown(tmp_path, new_ssh_key):
    key = new_ssh_key(tmp_path / "recorder")
    pub = " ".join((tmp_path / "recorder.pub").read_text().split()[:2])
    signers = _sshsig.parse_allowed_signers('recorder@ws namespaces="%s" %s\n' % (_sshsig.SEAL_NAMESPACE, pub))
    ws = tmp_path / "ws"
    ws.mkdir()
    recorded(ws, key)
    ActionModule._decision(ctx(ws, signers, seals=True), DECISION["id"])
    # The attacker appends a chain-valid line (no key needed) with a decision of their own.
    forged = dict(_decisions.build("validate", "setting.work_mem", {"expected": "8MB", "actual": "48MB"},
                                   ("fix", "accept"), DIGEST, "en"), environment="ws", host="localhost")
    lines = (ws / "journal.jsonl").read_text().splitlines()
    last = json.loads(lines[-1])
    line = {"seq": last["seq"] + 1, "ts": last["ts"], "run": last["run"], "kind": "decision", "data": forged,
            "prev": last["hash"], "env": last.get("env")}
    line["hash"] = hashlib.sha256(_chain.canonical(line).encode("utf-8")).hexdigest()
    journal = ws / "journal.jsonl"
    kept = journal.read_bytes()
    with open(journal, "a") as fh:
        fh.write(json.dumps(line) + "\n")
    with pytest.raises(_Refused, match="1 journal line"):
        ActionModule._decision(ctx(ws, signers, seals=True), forged["id"])
    # A line that breaks the chain (here: it names no environment): the journal is refused whole (review 22).
    line.pop("env")
    line["hash"] = hashlib.sha256(_chain.canonical(line).encode("utf-8")).hexdigest()
    journal.write_bytes(kept + (json.dumps(line) + "\n").encode())
    with pytest.raises(_Refused, match="breaks at line %d" % line["seq"]):
        ActionModule._decision(ctx(ws, signers, seals=True), DECISION["id"])
    journal.write_bytes(kept)
    # Without the seal key in the root, no line counts at all.
    with pytest.raises(_Refused, match="journal line"):
        ActionModule._decision(ctx(ws, [], seals=True), DECISION["id"])
