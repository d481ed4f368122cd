"""Opening from a checkpoint (docs/recorder.md): a run opens from the folded state its predecessor's seal signed and
reads only the lines after it - the same state as reading the whole journal, or, when the checkpoint does not hold
(altered, its seal altered, no trust root to check it against), the whole journal read as before. Real keys and
ssh-keygen, the recorder in isolation."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from ansible_collections.ssot.governance.plugins.module_utils import _chain
from ansible_collections.ssot.governance.plugins.plugin_utils._recorder import CHECKPOINT, Recorder
from ansible_collections.ssot.governance.plugins.plugin_utils._redact import Redactor
# pylint: disable-next=unused-import
from ansible_collections.ssot.governance.tests.unit.plugins.plugin_utils.test_journal_surgery import (  # noqa: F401
    _trust_root, forged, keys, one_run, parse)


def opened(ws, key=None):
    """A recorder that has read the journal (lock, replay, checks) and let the workspace go again."""
    rec = Recorder(str(ws), language="en", redactor=Redactor(environ={}), seal_key=key)
    rec._take("test")
    rec.store.release()
    return rec


def full_state(ws, monkeypatch):
    """The state of the whole journal, read line by line (no trust root: no checkpoint can be used)."""
    root = monkeypatch.delenv("SSOT_TRUST_ROOT", raising=False)
    rec = opened(ws)
    assert rec._base == 0 and root is None
    return json.dumps(rec.state.dump(), sort_keys=True)


@pytest.fixture
def history(tmp_path, keys, monkeypatch):
    ws = tmp_path / "ws"
    ws.mkdir()
    monkeypatch.setenv("SSOT_TRUST_ROOT", str(_trust_root(tmp_path, keys)))
    for dummy in range(3):
        one_run(ws, keys["recorder"])
    return ws


def test_a_sealed_run_leaves_a_checkpoint_its_seal_names(history):
    lines = parse((history / _chain.JOURNAL).read_bytes())
    seal = lines[-1]
    assert seal["kind"] == "seal"
    data = (history / CHECKPOINT).read_bytes()
    assert seal["data"]["checkpoint"] == hashlib.sha256(data).hexdigest()
    checkpoint = json.loads(data)
    assert checkpoint["seq"] == seal["seq"] - 1 == seal["data"]["upto"] and checkpoint["hash"] == seal["prev"]


def test_the_next_open_reads_only_the_lines_after_the_checkpoint_and_folds_the_same_state(history, keys,
                                                                                          monkeypatch):
    rec = opened(history, keys["recorder"])
    checkpoint = json.loads((history / CHECKPOINT).read_bytes())
    assert rec._base == checkpoint["seq"] and not rec.warnings
    mine = json.dumps(rec.state.dump(), sort_keys=True)
    assert mine == full_state(history, monkeypatch)
    # And a whole run on top of it ends with views equal to a run that read everything.
    monkeypatch.setenv("SSOT_TRUST_ROOT", str(history.parent / "trust.yml"))
    one_run(history, keys["recorder"])
    assert _chain.verify(str(history), allowed_signers=keys["signers"], require_seals=True)["ok"]


def test_an_altered_checkpoint_is_said_and_never_used(history, keys, monkeypatch):
    """The attacker rewrites the checkpoint - a decision approved in its state - without the key: the open reads the
    whole journal, says so, and folds what the journal says."""
    checkpoint = json.loads((history / CHECKPOINT).read_bytes())
    decision = "validate.setting.work_mem.x"
    checkpoint["state"]["decisions"][decision] = {"id": decision, "status": "approved"}
    (history / CHECKPOINT).write_text(json.dumps(checkpoint))
    rec = opened(history, keys["recorder"])
    assert rec._base == 0 and any("was not used" in w and "another checkpoint" in w for w in rec.warnings)
    assert "validate.setting.work_mem.x" not in rec.state.decisions
    assert json.dumps(rec.state.dump(), sort_keys=True) == full_state(history, monkeypatch)


def test_a_checkpoint_whose_seal_was_rewritten_is_never_used(history, keys, monkeypatch):
    """Forged checkpoint and its seal rewritten to name it (the chain recomputed): the seal's signature no longer
    holds, so the checkpoint stands for nothing."""
    checkpoint = json.loads((history / CHECKPOINT).read_bytes())
    checkpoint["state"]["decisions"]["forged"] = {"id": "forged", "status": "approved"}
    data = json.dumps(checkpoint).encode()
    (history / CHECKPOINT).write_bytes(data)
    lines = parse((history / _chain.JOURNAL).read_bytes())
    lines[-1]["data"]["checkpoint"] = hashlib.sha256(data).hexdigest()
    lines[-1]["hash"] = _chain.line_hash(lines[-1])
    (history / _chain.JOURNAL).write_bytes(b"".join(_chain.canonical(x).encode() + b"\n" for x in lines))
    rec = opened(history, keys["recorder"])
    assert rec._base == 0 and any("not signed by a signer" in w for w in rec.warnings)
    assert "forged" not in rec.state.decisions


def test_without_a_trust_root_no_checkpoint_is_used(history, keys, monkeypatch):
    monkeypatch.delenv("SSOT_TRUST_ROOT")
    rec = opened(history, keys["recorder"])
    assert rec._base == 0 and not rec.warnings


def test_lines_appended_after_the_checkpoint_are_read_and_reported_unsealed(history, keys, monkeypatch):
    """Someone without the key appends a line after the last seal: the open from the checkpoint reads it (it is
    after the checkpoint), and the run records it as unsealed, as a whole read would."""
    lines = parse((history / _chain.JOURNAL).read_bytes())
    extra = dict(forged(env=lines[-1]["env"]), seq=len(lines) + 1, prev=lines[-1]["hash"])
    extra["hash"] = _chain.line_hash(extra)
    with open(history / _chain.JOURNAL, "ab") as fh:
        fh.write(_chain.canonical(extra).encode() + b"\n")
    rec = one_run(history, keys["recorder"])
    assert rec._base == lines[-1]["seq"] - 1
    unsealed = [x for x in parse((history / _chain.JOURNAL).read_bytes()) if x["kind"] == "journal_unsealed"]
    assert unsealed and unsealed[-1]["data"]["from"] == extra["seq"] == unsealed[-1]["data"]["upto"]
    assert rec.state.decisions["validate.setting.work_mem.x"]["status"] == "approved"  # read, as a forged line is
    report = _chain.verify(str(history), allowed_signers=keys["signers"], require_seals=True)
    assert not report["ok"]  # verify still walks every line and names it


def test_a_torn_tail_after_the_checkpoint_is_moved_aside_as_before(history, keys):
    size = (history / _chain.JOURNAL).stat().st_size
    with open(history / _chain.JOURNAL, "ab") as fh:
        fh.write(b'{"seq": 99, "half')
    rec = one_run(history, keys["recorder"])
    assert rec._base > 0
    raw = (history / _chain.JOURNAL).read_bytes()
    assert raw[size:size + 1] == b"{" and b'"half' not in raw and list(history.glob("journal.jsonl.torn-*"))
    assert _chain.verify(str(history), allowed_signers=keys["signers"], require_seals=True)["ok"]


def test_a_journal_cut_before_the_checkpoint_is_read_whole(history, keys):
    """The checkpoint names a head the journal no longer reaches: the open reads what is there (and the heads log,
    when there is one, says whether that is allowed - test_journal_surgery.py)."""
    raw = (history / _chain.JOURNAL).read_bytes()
    kept = raw[:raw.index(b"\n", len(raw) // 3) + 1]
    (history / _chain.JOURNAL).write_bytes(kept)
    rec = opened(history, keys["recorder"])
    assert rec._base == 0 and rec._seq == kept.count(b"\n")


def test_the_same_in_a_copy_of_the_workspace(history, keys, tmp_path, monkeypatch):
    """A checkpoint is bound to its journal by the seal after its head: copied along, it still holds."""
    copy = tmp_path / "copy"
    shutil.copytree(history, copy)
    rec = opened(copy, keys["recorder"])
    assert rec._base > 0
    assert json.dumps(rec.state.dump(), sort_keys=True).replace(str(copy), "W") == \
        full_state(copy, monkeypatch).replace(str(copy), "W")


def test_the_postgresql_store_opens_from_its_checkpoint_row_too(tmp_path, keys, store_server, monkeypatch):
    from ansible_collections.ssot.governance.tests.unit.plugins.plugin_utils.test_recorder import DSN_ENV, PgEnv
    ws = tmp_path / "ws"
    ws.mkdir()
    env = PgEnv(ws, store_server, monkeypatch)
    monkeypatch.setenv("SSOT_TRUST_ROOT", str(_trust_root(tmp_path, keys)))

    def recorder():
        return Recorder(str(ws), language="en", redactor=Redactor(environ={}), seal_key=keys["recorder"],
                        store="postgresql", dsn_env=DSN_ENV)

    for dummy in range(2):
        rec = recorder()
        rec.open("site.yml", "tester")
        rec.start_play("play", [])
        rec.close("ok")
    (seq,), = env.sql("SELECT max(seq) FROM ssot_journal WHERE namespace = %s", (env.namespace,))
    rec = recorder()
    rec._take("test")
    rec.store.release()
    assert rec._base == seq - 1 and not rec.warnings  # the checkpoint row, its seal the last row
    mine = json.dumps(rec.state.dump(), sort_keys=True)
    monkeypatch.delenv("SSOT_TRUST_ROOT")
    whole = recorder()
    whole._take("test")
    whole.store.release()
    assert whole._base == 0 and json.dumps(whole.state.dump(), sort_keys=True) == mine
    assert env.verify(allowed_signers=keys["signers"], require_seals=True)["ok"]  # the checkpoint row is a record


def test_runs_of_a_pinned_environment_open_from_their_checkpoints(tmp_path, keys, monkeypatch):
    """The SSOT pins the environment (as every real workspace's does): the line that names it, before the checkpoint,
    is the one the checkpoint says - the next runs open from it and are not refused."""
    ws = tmp_path / "ws"
    ws.mkdir()
    monkeypatch.setenv("SSOT_TRUST_ROOT", str(_trust_root(tmp_path, keys)))
    bases = []
    for dummy in range(3):
        rec = Recorder(str(ws), language="en", redactor=Redactor(environ={}), seal_key=keys["recorder"],
                       environment=("ssot.yml", "env-pinned-0001"))
        rec.open("site.yml", "tester")
        bases.append(rec._base)
        rec.close("ok")
    assert bases[0] == 0 and bases[1] > 0 and bases[2] > bases[1]
    assert json.loads((ws / CHECKPOINT).read_bytes())["env_line"] == 1


def test_a_state_keeps_what_reads_like_a_tag_as_it_is():
    """Review 22: data whose only key is a tag name came back as a tuple or a set (or failed to load)."""
    from ansible_collections.ssot.governance.plugins.plugin_utils._views import _tagged, _untagged
    for value in ({"__tuple__": ["x"]}, {"__set__": [["a"]]}, {"__items__": []}, {"a": {"__set__": 1}},
                  {1: "x", "b": {2, 3}}, ("t", 1), {"__tuple__": ["x"], "other": 1}):
        assert _untagged(json.loads(json.dumps(_tagged(value)))) == value


def test_a_forged_observed_line_folds_nothing_and_breaks_nothing(tmp_path):
    from ansible_collections.ssot.governance.plugins.plugin_utils._views import State
    state = State(str(tmp_path), "en")
    state.apply({"kind": "observed", "run": "r", "seq": 1, "hash": "h", "ts": "t",
                 "data": {"values": [{"id": 5, "status": "present", "actual": "x"}, "junk"], "group": None}})
    assert state.observed == {}
    assert state.drift_against([{"id": "finding.a", "status": "low"}], "finding.") == ([], False)


def test_records_that_break_before_the_checkpoint_are_never_acted_on(history, keys, monkeypatch):
    """Review 22: a run opening from its checkpoint no longer reads the lines before it; where the records are used
    (a change's rollback data, an approver's card, a snapshot's manifest) the whole journal is walked, and one that
    breaks anywhere is refused."""
    from ansible_collections.ssot.governance.plugins.plugin_utils import _trust, _verified
    raw = (history / _chain.JOURNAL).read_bytes()
    at = raw.index(b'"ts": "2026') if b'"ts": "2026' in raw else raw.index(b'"ts":"2026')
    (history / _chain.JOURNAL).write_bytes(raw[:at] + raw[at:].replace(b"2026", b"2029", 1))
    rec = opened(history, keys["recorder"])
    assert rec._base > 0  # the open does not see it (verify does)
    rules = _trust.rules_for({}, str(history), str(history), "en")
    journal = _verified.Journal(str(history), rules, "en")
    assert journal.broken == 1 and "breaks at line 1" in journal.refusal(str(history), "en")
