"""Decisions as a module raises them: ids from their facts, options in their kind's order, and what the
controller checks before it settles one (the approvals themselves: plugin_utils/test_policy.py)."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.ssot.governance.plugins.module_utils import _decisions

DIGEST = "sha256:" + "d" * 64


def build(**facts):
    return _decisions.build("validate", "setting.work_mem", facts or {"expected": "8MB", "actual": "4MB"},
                            ("accept", "fix"), DIGEST, "pt-BR")


def test_ids_follow_the_kind_the_subject_and_the_facts():
    a = _decisions.decision_id("validate", "setting.work_mem", {"expected": "8MB", "actual": "64MB"})
    assert a == _decisions.decision_id("validate", "setting.work_mem", {"actual": "64MB", "expected": "8MB"})
    assert a != _decisions.decision_id("validate", "setting.work_mem", {"expected": "8MB", "actual": "4MB"})
    assert a != _decisions.decision_id("validate", "setting.shared_buffers", {"expected": "8MB", "actual": "64MB"})
    assert a != _decisions.decision_id("finding", "setting.work_mem", {"expected": "8MB", "actual": "64MB"})
    assert a.startswith("validate.setting.work_mem.") and len(a.rsplit(".", 1)[1]) == 8


def test_options_come_in_the_kinds_order_with_the_catalogs_labels():
    d = build()
    assert [o["id"] for o in d["options"]] == ["fix", "accept"]
    assert d["options"][0]["label"].startswith("corrigir o servidor")
    assert d["status"] == "pending" and d["facts"] == {"expected": "8MB", "actual": "4MB"}


def test_a_decision_is_what_its_id_says_or_it_is_refused():
    d = build()
    assert _decisions.consistent(d)
    assert not _decisions.consistent(dict(d, facts={"expected": "8MB", "actual": "48MB"}))   # other facts
    assert not _decisions.consistent(dict(d, id="validate.setting.shared_buffers." + d["id"].rsplit(".", 1)[1]))
    assert not _decisions.consistent(dict(d, options=[{"id": "rollback", "label": "x"}]))    # not this kind's
    assert not _decisions.consistent(dict(d, options=[]))
    assert not _decisions.consistent(dict(d, id="approved.x.12345678"))                     # no such kind
    assert not _decisions.consistent(dict(d, facts=None))
    assert not _decisions.consistent("validate.setting.work_mem.12345678")


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
    entry = {"decision": "x", "option": "fix", "approved_by": "Ana", "approved_at": "2026-11-24T10:00:00Z",
             "reason": "SSOT manda", "ssot_digest": DIGEST}
    path.write_text(yaml.safe_dump({"approvals": [dict(entry, approved_at="yesterday")]}))
    with pytest.raises(_decisions.ApprovalError, match="ISO 8601"):
        _decisions.load_approvals(str(path))
    path.write_text(yaml.safe_dump({"approvals": [dict(entry, environment="ws", card="sha256:" + "c" * 64,
                                                       draft=True)]}))
    assert _decisions.load_approvals(str(path))[0]["source"] == "approvals.yml #1"
