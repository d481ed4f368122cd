"""Signed approvals: every refusal docs/hitl.md lists, with real ssh-keygen and real keys made for the test."""

from __future__ import annotations

import datetime
import pytest

from ansible_collections.ssot.governance.plugins.module_utils import _decisions, _sshsig
from ansible_collections.ssot.governance.plugins.plugin_utils import _card
from ansible_collections.ssot.governance.tests.unit._tools import policy

DIGEST = "sha256:" + "a" * 64
NOW = datetime.datetime(2026, 11, 30, 12, 0, tzinfo=datetime.timezone.utc)
DECISION = _decisions.build("validate", "setting.work_mem", {"expected": "8MB", "actual": "4MB"},
                            ("fix", "accept"), DIGEST, "en")
CARD = _card.digest(DECISION, "ws", "localhost", "en")


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
         "reason": "trazer ao SSOT", "ssot_digest": DIGEST, "environment": "ws", "card": CARD,
         "source": "approvals.yml #1"}
    e.update(over)
    return e


def signed(keys, who="ana", namespace=_sshsig.APPROVAL_NAMESPACE, **over):
    e = entry(**over)
    e["signature"] = _sshsig.sign(_sshsig.approval_payload(e), namespace, key_file=str(keys[who]))
    return e


def resolve(keys, entries, require=True, signers=None, **kw):
    built = policy(DIGEST, NOW, lang="en", require_signatures=require,
                   signers=_sshsig.read_allowed_signers(str(signers or keys["signers"])), **kw)
    built.approvals = entries
    return built.resolve(DECISION, "localhost")


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
    ("decision", "validate.setting.work_mem.ffffffff"), ("option", "accept"), ("ssot_digest", "sha256:" + "b" * 64),
    ("approved_at", "2026-11-30T10:00:01Z"), ("expires_at", "2027-12-07T10:00:00Z"), ("reason", "outro motivo"),
    ("approved_by", "bob@example.org"), ("environment", "outro"), ("card", "sha256:" + "c" * 64)])
def test_a_signature_over_other_content_is_an_edit(keys, field, value):
    e = signed(keys)
    e[field] = value
    got = resolve(keys, [e])
    if field in ("decision", "ssot_digest", "environment", "card"):
        # Another decision, SSOT, environment or card: refused before the signature is even looked at.
        assert got["status"] == "pending"
        return
    text = refusal(got)
    assert "does not match the content" in text or "belongs to ana@example.org" in text


def test_a_signature_replayed_from_another_approval(keys):
    other = signed(keys, option="accept", reason="outra decisão")
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
    mapping = {"ana@example.org": ["ana"]}
    got = resolve(keys, [signed(keys)], separation_of_duties=True, run_identities=["ana"], accounts=mapping)
    assert "runs the play" in refusal(got)
    assert resolve(keys, [signed(keys)], separation_of_duties=True, run_identities=["bob"],
                   accounts=mapping)["status"] == "approved"
    # The principal ana@example.org is not guessed to be the account ana: without a mapping nothing counts.
    got = resolve(keys, [signed(keys)], separation_of_duties=True, run_identities=["bob"])
    assert "which accounts" in refusal(got)


def test_a_signature_without_signers_in_the_root(keys):
    built = policy(DIGEST, NOW, lang="en")
    built.approvals = [signed(keys)]
    assert "no approval signer can check it here" in refusal(built.resolve(DECISION, "localhost"))


def test_an_approval_signed_before_the_card_was_bound_does_not_count(keys):
    e = entry()
    e.pop("environment")
    e.pop("card")
    e["signature"] = _sshsig.sign(_sshsig.approval_payload(e), _sshsig.APPROVAL_NAMESPACE, key_file=str(keys["ana"]))
    assert "environment" in refusal(resolve(keys, [e]))


def test_no_ssh_keygen_fails_closed(keys, monkeypatch):
    e = signed(keys)
    monkeypatch.setenv("PATH", "/nonexistent")
    assert "ssh-keygen was not found" in refusal(resolve(keys, [e]))


@pytest.mark.parametrize("line, why", [
    ('* namespaces="approval@ssot.governance" KEY', "pattern"),
    ('*@corp.example namespaces="approval@ssot.governance" KEY', "pattern"),
    ('ana@corp.example,!bob@corp.example KEY', "pattern"),
    ('ana?@corp.example KEY', "pattern"),
    ('ana@corp.example cert-authority KEY', "cert-authority"),
    ('ana@corp.example namespaces="approval@*" KEY', "namespaces= with a pattern"),
    ('ana@corp.example no-touch-required KEY', "option the collection does not read"),
    ('ana@corp.example', "no principal, key type and key"),
    ('ana@corp.example ssh-ed25519 AAAA!!', "cannot be read"),
])
def test_lines_that_cannot_name_exactly_one_person_are_refused_at_load_with_their_number(keys, tmp_path, line, why):
    key = " ".join((keys["ana"].parent / "ana.pub").read_text().split()[:2])
    path = tmp_path / "allowed_signers"
    path.write_text("# ok\nbob@example.org %s\n%s\n" % (key, line.replace("KEY", key)))
    with pytest.raises(_sshsig.SignatureError) as err:
        _sshsig.read_allowed_signers(str(path))
    text = err.value.render("en")
    assert "line 3" in text and why in text, text


def test_one_reader_decides_at_verification_too(keys):
    # A pattern the reader refused at load can never be handed to ssh-keygen: verification takes parsed lines and
    # writes the one exact line it chose.
    lines = _sshsig.read_allowed_signers(str(keys["signers"]))
    line = _sshsig.exact_line(lines[0], "ana@example.org", _sshsig.APPROVAL_NAMESPACE)
    assert line.startswith('"ana@example.org" namespaces="approval@ssot.governance" ssh-ed25519 ')


def test_allowed_signers_options_are_read_for_the_reasons(keys):
    lines = _sshsig.read_allowed_signers(str(keys["signers"]))
    assert [l["principals"] for l in lines] == [["ana@example.org"], ["bob@example.org"], ["carl@example.org"],
                                                ["recorder@ci"]]
    assert lines[1]["namespaces"] == [_sshsig.APPROVAL_NAMESPACE]
    assert lines[2]["valid_before"].year == 2020
