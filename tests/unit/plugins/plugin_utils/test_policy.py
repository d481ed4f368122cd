"""Whether an approval counts, decided on the controller: every rule, and why each refused one does not count."""

from __future__ import annotations

import pytest

from ansible_collections.ssot.governance.plugins.module_utils import _decisions
from ansible_collections.ssot.governance.plugins.plugin_utils import _card, _policy
from ansible_collections.ssot.governance.tests.unit._tools import policy, resolve

DIGEST = "sha256:" + "d" * 64
NOW = _decisions.parse_time("2026-11-24T12:00:00Z")


@pytest.fixture
def dec():
    return _decisions.build("validate", "setting.work_mem", {"expected": "8MB", "actual": "4MB"},
                            ("accept", "fix"), DIGEST, "pt-BR")


def approval(dec, **kw):
    entry = {"decision": dec["id"], "option": "fix", "approved_by": "Ana", "approved_at": "2026-11-24T10:00:00Z",
             "reason": "SSOT manda", "ssot_digest": DIGEST, "source": "approvals.yml #1"}
    entry.update(kw)
    return entry


def test_a_valid_approval_counts(dec):
    got = resolve(dec, [approval(dec)], NOW)
    assert got["status"] == "approved" and "refusals" not in got
    entry = approval(dec)
    assert got["answer"] == {"option": "fix", "by": "Ana", "at": "2026-11-24T10:00:00Z", "reason": "SSOT manda",
                             "until": "2026-12-01T10:00:00Z", "signed": False,  # default validity 7d
                             # the entry as approvals.yml holds it (verify finds it edited after its change)
                             "entry_sha256": _decisions.entry_digest(entry)}
    edited = dict(entry, reason="outro")
    assert _decisions.entry_digest(edited) != got["answer"]["entry_sha256"]
    assert _decisions.entry_digest(dict(entry, source="approvals.yml #9")) == got["answer"]["entry_sha256"]
    # An answer given elsewhere (the launcher's ssot_approvals, a terminal) names no approvals.yml entry.
    assert "entry_sha256" not in resolve(dec, [approval(dec, source="ssot_approvals #1")], NOW)["answer"]


@pytest.mark.parametrize("change, status, why", [
    ({"ssot_digest": "sha256:" + "e" * 64}, "pending", "SSOT"),
    ({"option": "whatever"}, "pending", "whatever"),
    ({"expires_at": "2026-11-24T11:00:00Z"}, "expired", "expirou"),
    ({"approved_at": "2026-11-01T10:00:00Z"}, "expired", "expirou"),  # past the SSOT's validity
    ({"environment": "producao"}, "pending", "ambiente producao"),
    ({"card": "sha256:" + "0" * 64}, "pending", "outro cartão"),
    ({"draft": True}, "pending", "rascunho"),
    ({"approved_by": "<nome de quem aprova>"}, "pending", "texto de exemplo"),
    ({"reason": "<por quê>"}, "pending", "texto de exemplo"),
    ({"approved_by": "<name>"}, "pending", "texto de exemplo"),
])
def test_approvals_that_do_not_count_say_why(dec, change, status, why):
    got = resolve(dec, [approval(dec, **change)], NOW)
    assert got["status"] == status
    assert why in got["refusals"][0] and "approvals.yml #1" in got["refusals"][0]


def test_the_right_environment_and_card_count(dec):
    card = _card.digest(dec, "ws", "localhost", "pt-BR")
    assert resolve(dec, [approval(dec, environment="ws", card=card)], NOW)["status"] == "approved"
    # The same card for another host (or environment) is another card.
    assert resolve(dec, [approval(dec, environment="ws", card=card)], NOW, host="db-2")["status"] == "pending"


def test_the_assistants_draft_never_counts_even_filled_in(dec):
    entry = _policy.paste_entry(dec, "ws", "localhost", "fix", "pt-BR")
    assert "<nome de quem aprova>" in entry and "draft" not in entry
    import yaml
    drafted = yaml.safe_load("approvals:\n" + entry + "    draft: true\n")["approvals"][0]
    got = resolve(dec, [dict(drafted, approved_by="Ana", reason="ok", source="approvals.yml #1")], NOW)
    assert got["status"] == "pending" and "rascunho" in got["refusals"][0]
    got = resolve(dec, [dict(drafted, draft=False, source="approvals.yml #1")], NOW)
    assert got["status"] == "pending" and "texto de exemplo" in got["refusals"][0]


def test_another_decisions_approval_is_ignored(dec):
    got = resolve(dec, [approval(dec, decision="other")], NOW)
    assert got["status"] == "pending" and "refusals" not in got


def test_approvers_narrow_who_counts(dec):
    assert resolve(dec, [approval(dec)], NOW, approvers=["Bia"])["status"] == "pending"
    assert "Bia" in resolve(dec, [approval(dec)], NOW, approvers=["Bia"])["refusals"][0]
    assert resolve(dec, [approval(dec)], NOW, approvers=["Ana"])["status"] == "approved"


def test_separation_of_duties_needs_the_principals_accounts(dec):
    # Without the mapping it cannot be told whether the runner is the approver: nothing counts (fail closed).
    got = resolve(dec, [approval(dec)], NOW, run_identities=["ops"], separation_of_duties=True)
    assert got["status"] == "pending" and "quais contas" in got["refusals"][0]
    # The name is never guessed into an account: ana.s is Ana only when a mapping says so.
    got = resolve(dec, [approval(dec)], NOW, run_identities=["ana.s"], separation_of_duties=True,
                  accounts={"Ana": ["ana.s"]})
    assert got["status"] == "pending" and "separação" in got["refusals"][0]
    assert resolve(dec, [approval(dec)], NOW, run_identities=["ops"], separation_of_duties=True,
                   accounts={"Ana": ["ana.s"]})["status"] == "approved"
    assert resolve(dec, [approval(dec)], NOW, run_identities=["ana"])["status"] == "approved"


def test_without_a_trust_root_nothing_counts(dec):
    got = resolve(dec, [approval(dec)], NOW, root=False)
    assert got["status"] == "pending" and "no root" in got["refusals"][0]


def test_launcher_approvals_count_only_where_the_ssot_says(dec):
    p = policy(DIGEST, NOW)
    p.approvals = [dict(approval(dec), channel=_policy.EXTRA_VARS)]
    got = p.resolve(dec, "localhost")
    assert got["status"] == "pending" and "ssot_approvals" in got["refusals"][0]
    p = policy(DIGEST, NOW, extra_var_approvals=True)
    p.approvals = [dict(approval(dec), channel=_policy.EXTRA_VARS)]
    assert p.resolve(dec, "localhost")["status"] == "approved"


def test_reject_and_last_one_wins(dec):
    assert resolve(dec, [approval(dec, option="reject")], NOW)["status"] == "rejected"
    assert resolve(dec, [approval(dec, option="reject"), approval(dec)], NOW)["status"] == "approved"


def test_the_outcome_names_what_waits_and_never_prints_a_card_control_character(dec):
    hostile = dict(dec, title="T\x1b[2J\x1b[31mfix\u202e", status="pending")
    p = policy(DIGEST, NOW)
    out = _policy.outcome([hostile], p, ["fix"], "localhost")
    assert out["pending"] == [dec["id"]] and "\x1b" not in out["msg"] and "\u202e" not in out["msg"]
    assert "draft" not in out["paste"] and "card: \"sha256:" in out["paste"]
