"""Signed approvals: every refusal docs/hitl.md lists, with real ssh-keygen and real keys made for the test."""

from __future__ import annotations

import datetime
import pytest

from ansible_collections.ssot.governance.plugins.module_utils import _decisions, _sshsig

DIGEST = "sha256:" + "a" * 64
NOW = datetime.datetime(2026, 11, 30, 12, 0, tzinfo=datetime.timezone.utc)
DECISION = _decisions.build("validate.setting.work_mem.1234abcd", 3, "work_mem", "", [
    {"id": "fix", "label": "A"}, {"id": "keep", "label": "B"}], DIGEST)


@pytest.fixture(scope="module")
def keys(tmp_path_factory, new_ssh_key):
    """ana and bob approve; carl's key is listed past its valid-before; rec may only seal; eve is not listed."""
    d = tmp_path_factory.mktemp("keys")
    made = dict((name, new_ssh_key(d / name)) for name in ("ana", "bob", "carl", "rec", "eve"))
    pub = dict((n, " ".join((p.parent / (p.name + ".pub")).read_text().split()[:2])) for n, p in made.items())
    signers = d / "allowed_signers"
    signers.write_text("# approvers\n"
                       "ana@example.org %s\n" % pub["ana"]
                       + "bob@example.org namespaces=\"%s\" %s\n" % (_sshsig.APPROVAL_NAMESPACE, pub["bob"])
                       + "carl@example.org valid-before=\"20200101\" %s\n" % pub["carl"]
                       + "recorder@ci namespaces=\"%s\" %s\n" % (_sshsig.SEAL_NAMESPACE, pub["rec"]))
    made["signers"] = signers
    return made


def entry(**over):
    e = {"decision": DECISION["id"], "option": "fix", "approved_by": "ana@example.org",
         "approved_at": "2026-11-30T10:00:00Z", "expires_at": "2026-12-07T10:00:00Z",
         "reason": "trazer ao SSOT", "ssot_digest": DIGEST, "source": "approvals.yml #1"}
    e.update(over)
    return e


def signed(keys, who="ana", namespace=_sshsig.APPROVAL_NAMESPACE, **over):
    e = entry(**over)
    e["signature"] = _sshsig.sign(_sshsig.approval_payload(e), namespace, key_file=str(keys[who]))
    return e


def resolve(keys, entries, require=True, signers=None, **hitl):
    params = {"ssot_digest": DIGEST, "language": "en", "hitl": dict(
        approvals_file=None, approvals=[], allowed_signers=str(signers or keys["signers"]),
        require_signatures=require, **hitl)}
    policy = _decisions.Policy(params, now=NOW)
    policy.approvals = entries
    return policy.resolve(DECISION)


def refusal(got):
    assert got["status"] == "pending", got
    return " ".join(got["refusals"])


def test_a_valid_signature_counts_and_names_the_key(keys):
    got = resolve(keys, [signed(keys)])
    assert got["status"] == "approved"
    assert got["answer"]["signed"] is True and got["answer"]["key"].startswith("SHA256:")
    assert got["answer"]["by"] == "ana@example.org"


def test_a_datetime_read_by_yaml_signs_the_same_as_its_text(keys):
    e = signed(keys)
    e["approved_at"] = datetime.datetime(2026, 11, 30, 10, 0, tzinfo=datetime.timezone.utc)
    assert resolve(keys, [e])["status"] == "approved"


def test_no_signature_when_required(keys):
    assert "requires signed approvals" in refusal(resolve(keys, [entry()]))


def test_no_signature_counts_when_not_required_and_says_unsigned(keys):
    got = resolve(keys, [entry()], require=False)
    assert got["status"] == "approved" and got["answer"]["signed"] is False


def test_a_key_not_in_the_allowed_signers(keys):
    assert "is not in the allowed-signers file" in refusal(resolve(keys, [signed(keys, "eve")]))


def test_a_forged_approved_by_with_a_valid_signature_of_another_principal(keys):
    # bob signs a perfectly valid approval, but the entry says ana approved it.
    got = resolve(keys, [signed(keys, "bob", approved_by="ana@example.org")])
    assert "belongs to bob@example.org" in refusal(got)


def test_a_principal_not_allowed_to_approve(keys):
    # The recorder's key may seal journals only (namespaces= in the allowed-signers file).
    got = resolve(keys, [signed(keys, "rec", approved_by="recorder@ci")])
    assert "not allowed for %s" % _sshsig.APPROVAL_NAMESPACE in refusal(got)


def test_a_principal_the_ssot_does_not_list_as_approver(keys):
    got = resolve(keys, [signed(keys, "bob", approved_by="bob@example.org")], approvers=["ana@example.org"])
    assert "not among the SSOT's approvers" in refusal(got)


@pytest.mark.parametrize("field,value", [
    ("decision", "validate.setting.work_mem.ffffffff"), ("option", "keep"), ("ssot_digest", "sha256:" + "b" * 64),
    ("approved_at", "2026-11-30T10:00:01Z"), ("expires_at", "2027-12-07T10:00:00Z"), ("reason", "outro motivo"),
    ("approved_by", "bob@example.org")])
def test_a_signature_over_other_content_is_an_edit(keys, field, value):
    e = signed(keys)
    e[field] = value
    got = resolve(keys, [e])
    if field in ("decision", "ssot_digest"):
        # Another decision or SSOT: not this decision's approval, or refused for its digest before the signature.
        assert got["status"] == "pending"
        return
    text = refusal(got)
    assert "does not match the content" in text or "belongs to ana@example.org" in text


def test_a_signature_replayed_from_another_approval(keys):
    other = signed(keys, option="keep", reason="outra decisão")
    e = entry()
    e["signature"] = other["signature"]
    assert "does not match the content" in refusal(resolve(keys, [e]))


def test_a_key_past_its_valid_before(keys):
    got = resolve(keys, [signed(keys, "carl", approved_by="carl@example.org")])
    assert "expired on 2020-01-01" in refusal(got)


def test_a_signature_for_another_use(keys):
    got = resolve(keys, [signed(keys, namespace="file")])
    assert "is for the use file" in refusal(got)


def test_garbage_inside_the_armor(keys):
    e = entry(signature="-----BEGIN SSH SIGNATURE-----\nAAAA\n-----END SSH SIGNATURE-----\n")
    assert "not a readable SSH signature" in refusal(resolve(keys, [e]))


def test_separation_of_duties_refuses_the_signer_who_runs_the_play(keys):
    got = resolve(keys, [signed(keys)], separation_of_duties=True, run_identities=["ana"])
    assert "runs the play" in refusal(got)
    assert resolve(keys, [signed(keys)], separation_of_duties=True, run_identities=["bob"])["status"] == "approved"


def test_a_signature_without_allowed_signers_in_the_ssot(keys):
    params = {"ssot_digest": DIGEST, "language": "en", "hitl": {"approvals_file": None}}
    policy = _decisions.Policy(params, now=NOW)
    policy.approvals = [signed(keys)]
    assert "names no hitl.allowed_signers" in refusal(policy.resolve(DECISION))


def test_an_unreadable_allowed_signers_file_fails_closed(keys, tmp_path):
    for bad in (tmp_path / "missing", tmp_path):
        text = refusal(resolve(keys, [signed(keys)], signers=bad))
        assert "allowed-signers file" in text and "cannot be read" in text


def test_no_ssh_keygen_fails_closed(keys, monkeypatch):
    e = signed(keys)
    monkeypatch.setenv("PATH", "/nonexistent")
    assert "ssh-keygen was not found" in refusal(resolve(keys, [e]))


def test_allowed_signers_options_are_read_for_the_reasons(keys):
    lines = _sshsig.read_allowed_signers(str(keys["signers"]))
    assert [l["principals"] for l in lines] == [["ana@example.org"], ["bob@example.org"], ["carl@example.org"],
                                                ["recorder@ci"]]
    assert lines[1]["namespaces"] == [_sshsig.APPROVAL_NAMESPACE]
    assert lines[2]["valid_before"].year == 2020
