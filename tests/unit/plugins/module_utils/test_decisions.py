"""Decisions and the approvals that settle them: what counts, what does not, and why."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.ssot.governance.plugins.module_utils import _decisions

DIGEST = "sha256:" + "d" * 64
NOW = _decisions.parse_time("2026-11-24T12:00:00Z")


@pytest.fixture
def dec():
    return _decisions.build("validate.setting.work_mem.12345678", 3, "t", "c",
                            [{"id": "accept", "label": "A"}, {"id": "fix", "label": "B"}], DIGEST)


def approval(**kw):
    entry = {"decision": "validate.setting.work_mem.12345678", "option": "fix", "approved_by": "Ana",
             "approved_at": "2026-11-24T10:00:00Z", "reason": "SSOT manda", "ssot_digest": DIGEST,
             "source": "approvals.yml #1"}
    entry.update(kw)
    return entry


def test_stable_ids_follow_the_facts():
    a = _decisions.stable_id("validate", "setting.work_mem", "4MB", "64MB")
    assert a == _decisions.stable_id("validate", "setting.work_mem", "4MB", "64MB")
    assert a != _decisions.stable_id("validate", "setting.work_mem", "4MB", "8MB")
    assert a.startswith("validate.setting.work_mem.") and len(a.rsplit(".", 1)[1]) == 8


def test_a_valid_approval_counts(dec):
    got = _decisions.resolve(dec, [approval()], NOW)
    assert got["status"] == "approved" and "refusals" not in got
    assert got["answer"] == {"option": "fix", "by": "Ana", "at": "2026-11-24T10:00:00Z", "reason": "SSOT manda",
                             "until": "2026-12-01T10:00:00Z", "signed": False}  # default validity 7d


@pytest.mark.parametrize("change, status, why", [
    ({"ssot_digest": "sha256:" + "e" * 64}, "pending", "SSOT"),
    ({"option": "whatever"}, "pending", "whatever"),
    ({"expires_at": "2026-11-24T11:00:00Z"}, "expired", "expirou"),
    ({"approved_at": "2026-11-01T10:00:00Z"}, "expired", "expirou"),  # past the SSOT's validity
])
def test_approvals_that_do_not_count_say_why(dec, change, status, why):
    got = _decisions.resolve(dec, [approval(**change)], NOW)
    assert got["status"] == status
    assert why in got["refusals"][0] and "approvals.yml #1" in got["refusals"][0]


def test_another_decisions_approval_is_ignored(dec):
    got = _decisions.resolve(dec, [approval(decision="other")], NOW)
    assert got["status"] == "pending" and "refusals" not in got


def test_approvers_and_separation_of_duties(dec):
    assert _decisions.resolve(dec, [approval()], NOW, approvers=["Bia"])["status"] == "pending"
    assert "Bia" in _decisions.resolve(dec, [approval()], NOW, approvers=["Bia"])["refusals"][0]
    assert _decisions.resolve(dec, [approval()], NOW, approvers=["Ana"])["status"] == "approved"
    selfish = _decisions.resolve(dec, [approval()], NOW, run_identities=["ana"], separation_of_duties=True)
    assert selfish["status"] == "pending" and "separação" in selfish["refusals"][0]
    assert _decisions.resolve(dec, [approval()], NOW, run_identities=["ana"])["status"] == "approved"


def test_reject_and_last_one_wins(dec):
    assert _decisions.resolve(dec, [approval(option="reject")], NOW)["status"] == "rejected"
    assert _decisions.resolve(dec, [approval(option="reject"), approval()], NOW)["status"] == "approved"


def test_approvals_file_is_schema_checked(tmp_path):
    assert _decisions.load_approvals(str(tmp_path / "none.yml")) == []
    path = tmp_path / "approvals.yml"
    path.write_text(yaml.safe_dump({"approvals": [{"decision": "x", "option": "a"}]}))
    with pytest.raises(_decisions.ApprovalError, match="approved_by"):
        _decisions.load_approvals(str(path))
    path.write_text("approvals: [\n")
    with pytest.raises(_decisions.ApprovalError):
        _decisions.load_approvals(str(path))
    path.write_text("- just a list\n")
    with pytest.raises(_decisions.ApprovalError, match="approvals:"):
        _decisions.load_approvals(str(path))
    entry = {k: v for k, v in approval().items() if k != "source"}
    path.write_text(yaml.safe_dump({"approvals": [dict(entry, approved_at="yesterday")]}))
    with pytest.raises(_decisions.ApprovalError, match="ISO 8601"):
        _decisions.load_approvals(str(path))
    path.write_text(yaml.safe_dump({"approvals": [entry]}))
    assert _decisions.load_approvals(str(path))[0]["source"] == "approvals.yml #1"


def test_terminal_answers_are_explicit(dec):
    assert _decisions.parse_answer("aprovar A", dec) == "accept"
    assert _decisions.parse_answer("  APROVAR b ", dec) == "fix"
    assert _decisions.parse_answer("rejeitar", dec) == "reject"
    for vague in ("sim", "a", "aprovar", "aprovar C", "aprovar A agora", "ok", "", "approve A"):
        assert _decisions.parse_answer(vague, dec) is None, vague
    assert _decisions.parse_answer("approve A", dec, "en") == dec["options"][0]["id"]
    assert _decisions.parse_answer("reject", dec, "en") == "reject"


def test_card_shows_context_options_risk_rollback(dec):
    dec = dict(dec, risk="muda o servidor", rollback="ALTER SYSTEM RESET")
    card = _decisions.card(dec)
    for part in ("Decisão validate.setting.work_mem.12345678", "Contexto: c", "Opções:", "  A) A [accept]",
                 "  B) B [fix]", "Risco: muda o servidor", "Rollback: ALTER SYSTEM RESET", '"aprovar A"', '"rejeitar"'):
        assert part in card, part
