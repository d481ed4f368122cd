"""Sealed journals: the recorder signs the chain head at the end of every run; verify catches a rewritten history
even when every later hash was recomputed (real ssh-keygen, keys made for the test)."""

from __future__ import annotations

import hashlib
import json
import subprocess

import pytest

from ansible_collections.ssot.governance.plugins.module_utils import _chain, _sshsig
from ansible_collections.ssot.governance.plugins.plugin_utils._recorder import Recorder, RecorderError
from ansible_collections.ssot.governance.plugins.plugin_utils._redact import Redactor


@pytest.fixture(scope="module")
def keys(tmp_path_factory, new_ssh_key):
    d = tmp_path_factory.mktemp("sealkeys")
    rec, other = new_ssh_key(d / "recorder"), new_ssh_key(d / "intruder")
    pub = " ".join((d / "recorder.pub").read_text().split()[:2])
    signers = d / "allowed_signers"
    signers.write_text('recorder@ci namespaces="%s" %s\n' % (_sshsig.SEAL_NAMESPACE, pub))
    return {"recorder": str(rec), "intruder": str(other), "signers": str(signers)}


def run(ws, key, steps=3, close=True):
    rec = Recorder(str(ws), language="en", redactor=Redactor(environ={}), seal_key=key)
    rec.open("site.yml", "tester")
    rec.start_play("play", [{"id": "s%d" % i, "name": "step %d" % i, "role": None} for i in range(steps)])
    for i in range(steps):
        rec.start_task({"id": "s%d" % i, "name": "step %d" % i, "role": None})
        rec.result({"step": "s%d" % i, "host": "h", "status": "ok", "result": {"n": i}})
    if close:
        rec.close("ok")
    return rec


def lines(ws):
    return [json.loads(x) for x in (ws / "journal.jsonl").read_text().splitlines()]


def rewrite(ws, number, change):
    """The attacker: alter line ``number`` and recompute every later hash, so the chain holds again."""
    out, prev = [], _chain.GENESIS
    for line in lines(ws):
        if line["seq"] == number:
            change(line)
        line["prev"] = prev
        line["hash"] = _chain.line_hash(line)
        prev = line["hash"]
        out.append(_chain.canonical(line))
    (ws / "journal.jsonl").write_text("\n".join(out) + "\n")


def chain_holds(ws):
    """What verify said before seals: no line out of the chain."""
    return not [p for p in _chain.verify(str(ws))["problems"] if p["kind"].startswith("journal_")]


def check(ws, keys, require=True):
    return _chain.verify(str(ws), keys["signers"], require)


def test_every_run_ends_with_a_seal_that_verifies(tmp_path, keys):
    run(tmp_path, keys["recorder"])
    run(tmp_path, keys["recorder"])
    seals = [l for l in lines(tmp_path) if l["kind"] == "seal"]
    assert len(seals) == 2 and lines(tmp_path)[-1]["kind"] == "seal"
    report = check(tmp_path, keys)
    assert report["ok"], report["problems"]
    assert report["seals"]["valid"] == 2 and report["seals"]["signers"] == ["recorder@ci"]
    assert report["seals"]["unsealed"] == []
    # The second seal starts at its own run's first line, right after the first seal: it vouches for no line it did
    # not see written, and no line falls between them.
    assert seals[1]["data"]["from"] == seals[0]["seq"] + 1
    assert lines(tmp_path)[seals[0]["seq"]]["kind"] == "run_start"


def test_a_rewritten_history_is_caught_and_the_first_changed_line_named(tmp_path, keys):
    run(tmp_path, keys["recorder"])
    run(tmp_path, keys["recorder"])
    target = next(l["seq"] for l in lines(tmp_path) if l["kind"] == "result")
    assert chain_holds(tmp_path)

    def change(line):
        line["data"]["status"] = "failed"
    rewrite(tmp_path, target, change)
    assert chain_holds(tmp_path), "the attack keeps the chain consistent: the hash chain alone is fooled"
    report = check(tmp_path, keys)
    assert not report["ok"]
    first = report["problems"][0]
    assert first["kind"] == "journal_rewritten" and first["where"] == "journal.jsonl:%d" % target


def test_a_seal_edited_to_match_the_rewrite_no_longer_verifies(tmp_path, keys):
    run(tmp_path, keys["recorder"])
    target = next(l["seq"] for l in lines(tmp_path) if l["kind"] == "result")
    rewrite(tmp_path, target, lambda line: line["data"].update(status="failed"))
    journal = lines(tmp_path)
    # The attacker also recomputes what the seal claims (head, line hashes); the signature cannot follow.
    seal = journal[-1]

    def fix_seal(line):
        line["data"]["lines"] = [l["hash"][:16] for l in journal[seal["data"]["from"] - 1:seal["data"]["upto"]]]
        line["data"]["head"] = journal[seal["data"]["upto"] - 1]["hash"]
    rewrite(tmp_path, seal["seq"], fix_seal)
    report = check(tmp_path, keys)
    kinds = [p["kind"] for p in report["problems"]]
    assert "seal_invalid" in kinds and "journal_unsealed" in kinds
    assert report["problems"][0]["where"] == "journal.jsonl:1"


def test_a_seal_by_an_unknown_key(tmp_path, keys):
    run(tmp_path, keys["intruder"])
    report = check(tmp_path, keys)
    assert report["problems"][0]["kind"] in ("seal_unknown_key", "journal_unsealed")
    assert "seal_unknown_key" in [p["kind"] for p in report["problems"]]


def test_an_unsealed_tail_is_named_by_line(tmp_path, keys):
    run(tmp_path, keys["recorder"])
    sealed = len(lines(tmp_path))
    run(tmp_path, None)  # a run whose recorder had no seal key
    report = check(tmp_path, keys)
    assert [p["kind"] for p in report["problems"]] == ["journal_unsealed"]
    assert report["problems"][0]["where"] == "journal.jsonl:%d" % (sealed + 1)
    assert check(tmp_path, keys, require=False)["ok"]


def test_only_the_verifying_runs_own_last_lines_are_not_sealed_yet(tmp_path, keys):
    run(tmp_path, keys["recorder"])
    rec = run(tmp_path, keys["recorder"], close=False)
    report = _chain.verify(str(tmp_path), keys["signers"], True, open_run=rec.run_id)
    assert report["ok"], report["problems"]
    assert lines(tmp_path)[report["seals"]["open_from"] - 1]["kind"] == "run_start"
    # Seen from outside that run (another process, an auditor), nothing is "the open tail": those lines have no seal.
    report = check(tmp_path, keys)
    assert [p["kind"] for p in report["problems"]] == ["journal_unsealed"]
    # Nor does naming another run make anyone's lines the open tail.
    assert not _chain.verify(str(tmp_path), keys["signers"], True, open_run="20990101T000000Z-beef")["ok"]
    rec.close("ok")
    assert check(tmp_path, keys)["ok"]


def test_a_killed_runs_lines_are_reported_by_the_next_run_and_never_adopted(tmp_path, keys):
    rec = run(tmp_path, keys["recorder"], close=False)
    killed = rec.run_id
    last = lines(tmp_path)[-1]
    rec._release_lock()  # killed outright: no run_end, no seal
    nxt = run(tmp_path, keys["recorder"])
    found = [l for l in lines(tmp_path) if l["kind"] == "journal_unsealed"]
    assert len(found) == 1 and found[0]["run"] == nxt.run_id
    assert found[0]["data"] == {"from": 1, "upto": last["seq"], "head": last["hash"], "runs": [killed]}
    assert any("1-%d" % last["seq"] in w for w in nxt.warnings)
    seal = [l for l in lines(tmp_path) if l["kind"] == "seal"][-1]
    assert seal["data"]["from"] == last["seq"] + 1  # its own lines only
    report = check(tmp_path, keys)
    assert [(p["kind"], p["where"]) for p in report["problems"]] == [("journal_unsealed", "journal.jsonl:1")]
    runbook = json.loads((tmp_path / "runbook.json").read_text())
    assert [r["code"] for r in runbook["records"]] == ["journal_unsealed"]
    panel = json.loads((tmp_path / "project-panel.json").read_text())
    assert any(f["code"] == "journal_unsealed" for f in panel["findings"])
    # Reported once: the run after that finds nothing new.
    run(tmp_path, keys["recorder"])
    assert len([l for l in lines(tmp_path) if l["kind"] == "journal_unsealed"]) == 1


def test_stripping_every_seal_does_not_get_the_history_resealed(tmp_path, keys):
    run(tmp_path, keys["recorder"])
    kept = [l for l in lines(tmp_path) if l["kind"] != "seal"]
    prev = _chain.GENESIS
    out = []
    for n, line in enumerate(kept, 1):
        line.update(seq=n, prev=prev)
        line["hash"] = _chain.line_hash(line)
        prev = line["hash"]
        out.append(_chain.canonical(line))
    (tmp_path / "journal.jsonl").write_text("\n".join(out) + "\n")
    run(tmp_path, keys["recorder"])  # the next run seals only what it saw written
    report = check(tmp_path, keys)
    assert report["problems"][0]["kind"] == "journal_unsealed"
    assert report["problems"][0]["where"] == "journal.jsonl:1"


def test_a_seal_key_that_cannot_sign_is_a_recorder_failure(tmp_path, keys):
    with pytest.raises(RecorderError, match="could not seal"):
        run(tmp_path, str(tmp_path / "no-such-key"))
    assert lines(tmp_path)[-1]["kind"] != "seal"


def test_a_sealed_journal_without_signers_to_check_it(tmp_path, keys):
    run(tmp_path, keys["recorder"])
    report = _chain.verify(str(tmp_path))
    assert [p["kind"] for p in report["problems"]] == ["seal_unchecked"]


def test_the_seal_payload_is_the_record_without_its_signature():
    seal = {"from": 1, "upto": 2, "head": "ab", "lines": ["a", "b"], "signature": "x"}
    body = _sshsig.seal_payload(seal)
    assert b"signature" not in body and hashlib.sha256(body).hexdigest()


def test_an_interrupted_run_is_sealed_too(tmp_path, keys):
    rec = run(tmp_path, keys["recorder"], close=False)
    rec.interrupt("signal SIGINT")
    assert lines(tmp_path)[-1]["kind"] == "seal"
    assert any(l["kind"] == "run_interrupted" for l in lines(tmp_path))
    assert check(tmp_path, keys)["ok"]


def test_a_seal_key_held_by_the_ssh_agent(tmp_path, keys, monkeypatch):
    import os
    import time
    sock = str(tmp_path / "agent.sock")
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", sock], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for dummy in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        monkeypatch.setenv("SSH_AUTH_SOCK", sock)
        subprocess.run(["ssh-add", keys["recorder"]], check=True, capture_output=True)
        ws = tmp_path / "ws"
        ws.mkdir()
        run(ws, keys["recorder"] + ".pub")  # the public half: the agent signs
        report = check(ws, keys)
        assert report["ok"] and report["seals"]["valid"] == 1, report["problems"]
    finally:
        agent.terminate()


def test_a_line_forged_between_runs_is_not_adopted_by_an_assistant_note(tmp_path, keys):
    """The attacker appends a well-chained rollback line after the last seal; the assistant's next note seals.
    The note vouches for its own line only, and the controller acts on none of the forged data."""
    from ansible_collections.ssot.governance.plugins.plugin_utils import _trust, _verified
    run(tmp_path, keys["recorder"])
    journal = lines(tmp_path)
    forged = {"seq": len(journal) + 1, "ts": journal[-1]["ts"], "run": journal[-1]["run"], "kind": "rollback",
              "prev": journal[-1]["hash"], "env": journal[-1]["env"],  # the environment: anyone can read it
              "data": {"subject": "settings", "event": "point", "data": {"settings": {"fsync": "off"}}}}
    forged["hash"] = _chain.line_hash(forged)
    with open(str(tmp_path / "journal.jsonl"), "a") as out:
        out.write(_chain.canonical(forged) + "\n")
    rec = Recorder(str(tmp_path), language="en", redactor=Redactor(environ={}), seal_key=keys["recorder"])
    rec.note("agent_note", {"text": "proposal"})
    seal = lines(tmp_path)[-1]
    assert seal["kind"] == "seal" and seal["data"]["from"] == forged["seq"] + 1, "the note sealed a line it did not write"
    root = _trust.Root("root", _sshsig.read_allowed_signers(keys["signers"]), True, True, {})
    trusted = _verified.Journal(str(tmp_path), _trust.Rules(root, {}, str(tmp_path), "en"), "en")
    assert forged["seq"] not in [l["seq"] for l in trusted.lines]
    assert trusted.rollback("settings")["point"] is None
