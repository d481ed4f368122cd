"""Journal surgery on real sealed records (real ssh-keygen, keys made for the test): whatever an attacker without the
recorder's key does to the lines - drop, insert, reorder, duplicate, edit and re-chain, truncate, strip seals, turn
ends into interruptions, append and get the next honest run to seal, put an older copy back - verify reports a
problem unless the surgery changed nothing. The auditor holds the trust root's signers and the head the last run
printed (kept outside the workspace: docs/recorder.md)."""

from __future__ import annotations

import json
import shutil

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.ssot.governance.plugins.module_utils import _chain
from ansible_collections.ssot.governance.plugins.plugin_utils import _heads
from ansible_collections.ssot.governance.plugins.module_utils import _sshsig


@pytest.fixture(scope="module")
def keys(tmp_path_factory, new_ssh_key):
    d = tmp_path_factory.mktemp("surgerykeys")
    new_ssh_key(d / "recorder")
    pub = " ".join((d / "recorder.pub").read_text().split()[:2])
    signers = d / "allowed_signers"
    signers.write_text('recorder@ci namespaces="%s" %s\n' % (_sshsig.SEAL_NAMESPACE, pub))
    return {"recorder": str(d / "recorder"), "signers": str(signers)}


def one_run(ws, key, steps=2, close=True):
    """One sealed run (the recorder in isolation), as test_seals.py makes them."""
    from ansible_collections.ssot.governance.tests.unit.plugins.plugin_utils.test_seals import run
    return run(ws, key, steps, close)


class Sealed(dict):
    def __repr__(self):  # what a failing example shows: not the whole journal
        return "<sealed records, head %s>" % self.get("head")


@pytest.fixture(scope="module")
def sealed(tmp_path_factory, keys):
    """Three sealed runs; the older copy (after the first two runs) kept aside; the head the last run printed."""
    ws = tmp_path_factory.mktemp("sealed")
    one_run(ws, keys["recorder"])
    one_run(ws, keys["recorder"])
    older = (ws / "journal.jsonl").read_bytes()
    rec = one_run(ws, keys["recorder"])
    return Sealed(ws=ws, journal=(ws / "journal.jsonl").read_bytes(), older=older, head=rec.head)


def parse(raw):
    return [json.loads(x) for x in raw.decode().splitlines()]


def rechain(lines):
    """The attacker's best: renumber and recompute every hash, so the chain holds again (no key needed)."""
    prev, out = _chain.GENESIS, []
    for n, line in enumerate(lines, 1):
        line = dict(line, seq=n, prev=prev)
        line["hash"] = _chain.line_hash(line)
        prev = line["hash"]
        out.append(_chain.canonical(line))
    return ("\n".join(out) + "\n").encode() if out else b""


def forged(kind="decision", env=None):
    """A line written by someone without the key; ``env``: the journal's environment, which anyone can read."""
    out = {"ts": "2026-12-06T10:00:00.000000Z", "run": "20261206T100000Z-0bad", "kind": kind,
           "data": {"id": "validate.setting.work_mem.x", "status": "approved",
                    "answer": {"option": "fix", "by": "ana.souza@demo.invalid", "at": "2026-12-06T10:00:00Z"}}}
    if env is not None:
        out["env"] = env
    return out


def env_of(lines):
    return lines[-1].get("env")


OTHER_ENV = "0ther0environment0000000000000000"


def surgery(kind, lines, i, j):
    """The journal after one surgery (i, j: positions it touches)."""
    n = len(lines)
    i, j = i % n, j % n
    if kind == "drop":
        return rechain(lines[:i] + lines[i + 1:])
    if kind == "drop_raw":                       # dropped and not re-chained
        return b"".join(_chain.canonical(x).encode() + b"\n" for x in lines[:i] + lines[i + 1:])
    if kind == "insert":
        return rechain(lines[:i] + [forged(env=env_of(lines))] + lines[i:])
    if kind == "append":
        return rechain(lines + [forged(env=env_of(lines))])
    if kind == "move_in":                        # a line of another environment's records, re-chained in
        return rechain(lines[:i] + [forged(env=OTHER_ENV)] + lines[i:])
    if kind == "relabel_env":                    # the whole journal claimed for another environment
        out = []
        for x in lines:
            x = dict(x, env=OTHER_ENV) if "env" in x else dict(x)
            if x["kind"] == "environment":
                x["data"] = dict(x["data"], id=OTHER_ENV)
            out.append(x)
        return rechain(out)
    if kind == "strip_env":                      # the identity taken out of every line
        return rechain([dict((k, v) for k, v in x.items() if k != "env") for x in lines if x["kind"] != "environment"])
    if kind == "reorder":
        swapped = list(lines)
        swapped[i], swapped[j] = swapped[j], swapped[i]
        return rechain(swapped)
    if kind == "duplicate":
        return rechain(lines[:i + 1] + [lines[i]] + lines[i + 1:])
    if kind == "edit":
        edited = dict(lines[i], data=dict(lines[i].get("data") or {}, tampered=True))
        return rechain(lines[:i] + [edited] + lines[i + 1:])
    if kind == "truncate":
        return rechain(lines[:i])
    if kind == "strip_seals":
        return rechain([x for x in lines if x["kind"] != "seal"])
    if kind == "strip_one_seal":
        seals = [k for k, x in enumerate(lines) if x["kind"] == "seal"]
        k = seals[i % len(seals)]
        return rechain(lines[:k] + lines[k + 1:])
    if kind == "ends_to_interruptions":
        out = []
        for x in lines:
            if x["kind"] in ("run_end", "seal"):
                if x["kind"] == "run_end":
                    out.append(dict(x, kind="run_interrupted", data={"interrupted_run": "20200101T000000Z-dead",
                                                                     "reason": "found dead"}))
                continue
            out.append(x)
        return rechain(out)
    if kind == "relabel_run":                    # a line moved into another run
        edited = dict(lines[i], run="20261206T100000Z-0bad")
        return rechain(lines[:i] + [edited] + lines[i + 1:])
    raise AssertionError(kind)


KINDS = ("drop", "drop_raw", "insert", "append", "reorder", "duplicate", "edit", "truncate", "strip_seals",
         "strip_one_seal", "ends_to_interruptions", "relabel_run", "move_in", "relabel_env", "strip_env")


def problems(ws, keys, head):
    return _chain.verify(str(ws), keys["signers"], True, expect_heads=[("kept", head)])["problems"]


def test_the_honest_records_verify_against_the_kept_head(sealed, keys):
    assert problems(sealed["ws"], keys, sealed["head"]) == []


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(kind=st.sampled_from(KINDS), i=st.integers(0, 10_000), j=st.integers(0, 10_000))
def test_any_surgery_is_reported_unless_it_changed_nothing(sealed, keys, tmp_path_factory, kind, i, j):
    ws = tmp_path_factory.mktemp("cut")
    shutil.copytree(sealed["ws"], ws, dirs_exist_ok=True)
    after = surgery(kind, parse(sealed["journal"]), i, j)
    (ws / "journal.jsonl").write_bytes(after)
    found = problems(ws, keys, sealed["head"])
    if parse(after) == parse(sealed["journal"]):
        assert found == [], (kind, i, j, found)
    else:
        assert found, (kind, i, j)


@pytest.mark.parametrize("kind", KINDS)
def test_each_surgery_kind_is_reported_at_every_position(sealed, keys, tmp_path, kind):
    lines = parse(sealed["journal"])
    tried = detected = 0
    for i in range(0, len(lines), 5):
        after = surgery(kind, lines, i, i + 3)
        if parse(after) == lines:
            continue
        (tmp_path / "journal.jsonl").write_bytes(after)
        shutil.copytree(sealed["ws"], tmp_path, dirs_exist_ok=True, ignore=shutil.ignore_patterns("journal.jsonl"))
        tried += 1
        detected += bool(problems(tmp_path, keys, sealed["head"]))
    assert tried and detected == tried, (kind, tried, detected)


def test_an_older_copy_put_back_is_caught_by_the_kept_head_naming_both(sealed, keys, tmp_path):
    shutil.copytree(sealed["ws"], tmp_path, dirs_exist_ok=True)
    (tmp_path / "journal.jsonl").write_bytes(sealed["older"])
    # Without a head kept outside, an older copy is a consistent, sealed journal: that is what a head is for.
    kinds = [p["kind"] for p in _chain.verify(str(tmp_path), keys["signers"], True)["problems"]]
    assert "journal_rolled_back" not in kinds
    found = problems(tmp_path, keys, sealed["head"])
    assert found[0]["kind"] == "journal_rolled_back"
    assert sealed["head"] in found[0]["detail"] and "[kept]" in found[0]["detail"]
    older_head = "%d:%s" % (len(parse(sealed["older"])), parse(sealed["older"])[-1]["hash"])
    assert older_head in found[0]["detail"]


def test_appended_lines_are_never_laundered_by_the_next_honest_run(sealed, keys, tmp_path):
    shutil.copytree(sealed["ws"], tmp_path, dirs_exist_ok=True)
    lines = parse(sealed["journal"])
    (tmp_path / "journal.jsonl").write_bytes(rechain(lines + [forged(env=env_of(lines))]))
    rec = one_run(tmp_path, keys["recorder"])  # the next honest validate
    report = _chain.verify(str(tmp_path), keys["signers"], True, expect_heads=[("kept", rec.head)])
    where = [(p["kind"], p["where"]) for p in report["problems"]]
    assert ("journal_unsealed", "journal.jsonl:%d" % (len(lines) + 1)) in where, where
    # And the run said so in its journal and its views.
    assert any(x["kind"] == "journal_unsealed" for x in parse((tmp_path / "journal.jsonl").read_bytes()))


def test_a_head_that_is_not_seq_and_sha256_is_named(sealed, keys):
    found = problems(sealed["ws"], keys, "latest")
    assert [p["kind"] for p in found] == ["head_unreadable"]


def test_the_heads_log_keeps_signed_heads_and_refuses_forged_ones(tmp_path, keys):
    log = tmp_path / "heads.log"
    env = _heads.identity(str(tmp_path / "ws"))
    _heads.append(str(log), _heads.entry(env, 3, "a" * 64, "r1", "t", keys["recorder"]))
    _heads.append(str(log), _heads.entry(env, 9, "b" * 64, "r2", "t", keys["recorder"]))
    _heads.append(str(log), _heads.entry(env, 12, "c" * 64, "r3", "t"))  # unsigned: someone without the key
    _heads.append(str(log), _heads.entry(_heads.identity(str(tmp_path / "other")), 40, "d" * 64, "r4", "t",
                                         keys["recorder"]))
    latest, forged_lines = _heads.latest(str(log), env, keys["signers"])
    assert (latest["seq"], latest["hash"]) == (9, "b" * 64)
    assert [n for n, dummy in forged_lines] == [3]


def _trust_root(tmp_path, keys, heads_log=None):
    import yaml
    pub = (tmp_path / "signers.txt")
    pub.write_text(open(keys["signers"]).read())
    doc = {"allowed_signers": pub.read_text(), "require_seals": True}
    if heads_log:
        doc["heads_log"] = str(heads_log)
    root = tmp_path / "trust.yml"
    root.write_text(yaml.safe_dump(doc))
    return root


@pytest.mark.parametrize("with_root", [True, False])
def test_a_line_shaped_like_a_seal_hides_nothing_from_the_next_run(sealed, keys, tmp_path, monkeypatch, with_root):
    """Appended lines followed by a forged seal (no key: a bad signature, or the right shape and hashes): the next
    run still records them as unsealed - checked against the trust root's signers, or by shape without one."""
    ws = tmp_path / "ws"
    shutil.copytree(sealed["ws"], ws)
    if with_root:
        monkeypatch.setenv("SSOT_TRUST_ROOT", str(_trust_root(tmp_path, keys)))
    else:
        monkeypatch.delenv("SSOT_TRUST_ROOT", raising=False)
    lines = parse(sealed["journal"])
    appended = parse(rechain(lines + [forged(env=env_of(lines))]))
    fake = {"from": len(lines) + 1, "upto": len(lines) + 1, "head": appended[-1]["hash"],
            "lines": [appended[-1]["hash"][:16]],
            "signature": "-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----\n"}
    if not with_root:
        fake["head"] = "0" * 64  # without a root only the shape is checked: a forger gets it right but for this
    fake["env"] = env_of(lines)
    seal = dict(forged("seal", env_of(lines)), run=appended[-1]["run"], data=fake)
    (ws / "journal.jsonl").write_bytes(rechain(appended + [seal]))
    rec = one_run(ws, keys["recorder"])
    found = [x for x in parse((ws / "journal.jsonl").read_bytes()) if x["kind"] == "journal_unsealed"]
    assert found and found[-1]["run"] == rec.run_id and found[-1]["data"]["from"] == len(lines) + 1, found


def test_a_run_refuses_records_put_back_behind_the_heads_log_and_verify_checks_every_head(sealed, keys, tmp_path,
                                                                                          monkeypatch):
    from ansible_collections.ssot.governance.plugins.plugin_utils._recorder import RecorderError
    ws = tmp_path / "ws"
    shutil.copytree(sealed["ws"], ws)
    log = tmp_path / "heads.jsonl"
    monkeypatch.setenv("SSOT_TRUST_ROOT", str(_trust_root(tmp_path, keys, log)))
    older = (ws / "journal.jsonl").read_bytes()
    one_run(ws, keys["recorder"])
    one_run(ws, keys["recorder"])
    held, forged_lines = _heads.logged(str(log), _heads.identity(str(ws)), keys["signers"])
    assert len(held) == 2 and forged_lines == []
    (ws / "journal.jsonl").write_bytes(older)  # put back
    with pytest.raises(RecorderError, match="no longer hold the newest head"):
        one_run(ws, keys["recorder"])
    assert (ws / "journal.jsonl").read_bytes() == older, "the refused run wrote nothing"
    assert len(_heads.logged(str(log), _heads.identity(str(ws)), keys["signers"])[0]) == 2
    # A run that did not check (an older collection, a copy elsewhere) appended a head on the rolled-back chain:
    # verify still names the heads before it.
    kept = ["%d:%s" % (h["seq"], h["hash"]) for h in held]
    monkeypatch.delenv("SSOT_TRUST_ROOT")
    newer = one_run(ws, keys["recorder"]).head
    report = _chain.verify(str(ws), keys["signers"], True,
                           expect_heads=[("log #1", kept[0]), ("log #2", kept[1]), ("log #3", newer)])
    assert report["problems"][0]["kind"] == "journal_rolled_back" and "[log #1]" in report["problems"][0]["detail"]


def test_a_run_never_takes_a_stored_hash_on_its_word(sealed, keys, tmp_path, monkeypatch):
    """A line edited with its stored hash kept, or filler lines whose last stored hash is the logged head: the next
    run recomputes every hash, refuses (naming the line as verify does), writes nothing and signs no head."""
    from ansible_collections.ssot.governance.plugins.plugin_utils._recorder import RecorderError
    monkeypatch.setenv("SSOT_TRUST_ROOT", str(_trust_root(tmp_path, keys, tmp_path / "heads.jsonl")))
    lines = parse(sealed["journal"])
    edited = [dict(x) for x in lines]
    target = next(i for i, x in enumerate(edited) if x["kind"] == "result")
    edited[target]["data"] = dict(edited[target]["data"], status="failed")  # "hash" left as it was
    ws = tmp_path / "ws"
    shutil.copytree(sealed["ws"], ws)
    raw = "".join(_chain.canonical(x) + "\n" for x in edited).encode()
    (ws / "journal.jsonl").write_bytes(raw)
    with pytest.raises(RecorderError, match=r"journal_altered at journal.jsonl:%d" % (target + 1)):
        one_run(ws, keys["recorder"])
    assert (ws / "journal.jsonl").read_bytes() == raw and not (tmp_path / "heads.jsonl").exists()
    # Rolled back, then padded with lines whose last stored hash is the head the heads log keeps.
    ws2 = tmp_path / "ws2"
    shutil.copytree(sealed["ws"], ws2)
    rec = one_run(ws2, keys["recorder"])
    logged = _heads.latest(str(tmp_path / "heads.jsonl"), _heads.identity(str(ws2)), keys["signers"])[0]
    assert logged["hash"] == rec.head.split(":")[1]
    numbers = range(len(lines) + 1, logged["seq"] + 1)
    filler = [dict(forged("filler"), seq=n, prev="f" * 64, hash="f" * 64) for n in numbers]
    filler[-1]["hash"] = logged["hash"]
    padding = "".join(_chain.canonical(x) + "\n" for x in filler).encode()
    (ws2 / "journal.jsonl").write_bytes(sealed["journal"] + padding)
    with pytest.raises(RecorderError, match="journal_altered at journal.jsonl:%d" % (len(lines) + 1)):
        one_run(ws2, keys["recorder"])


def test_a_chained_line_the_views_cannot_read_is_kept_in_the_chain_and_reported(sealed, keys, tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(sealed["ws"], ws)
    lines = parse(sealed["journal"])
    odd = dict(forged("run_start", env_of(lines)), data=[1])
    (ws / "journal.jsonl").write_bytes(rechain(lines + [odd]))
    rec = one_run(ws, keys["recorder"])
    after = parse((ws / "journal.jsonl").read_bytes())
    assert [x["seq"] for x in after] == list(range(1, len(after) + 1)), "no sequence number used twice"
    assert any("%d" % (len(lines) + 1) in w for w in rec.warnings), rec.warnings
    unsealed = [x for x in after if x["kind"] == "journal_unsealed"]
    assert unsealed and unsealed[-1]["data"]["from"] == len(lines) + 1
    report = _chain.verify(str(ws), keys["signers"], True, expect_heads=[("kept", rec.head)])
    assert [(p["kind"], p["where"]) for p in report["problems"]] == [("journal_unsealed",
                                                                      "journal.jsonl:%d" % (len(lines) + 1))]
