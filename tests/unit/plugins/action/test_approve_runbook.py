"""The approve playbook reads the decision from runbook.json: a hostile runbook is a clear refusal, never a hang or
a traceback."""

from __future__ import annotations

import json
import os

import pytest

from ansible_collections.ssot.governance.plugins.action.approve import ActionModule, _Refused

DIGEST = "sha256:" + "a" * 64
DECISION = {"id": "validate.setting.work_mem.1a2b3c4d", "title": "work_mem", "ssot_digest": DIGEST,
            "options": [{"id": "fix", "label": "A"}], "status": "pending"}


def decision(ws, wanted=DECISION["id"]):
    return ActionModule._decision(str(ws), wanted, DIGEST, "en")


def test_the_recorded_decision_is_found(tmp_path):
    (tmp_path / "runbook.json").write_text(json.dumps({"decisions": [DECISION]}))
    assert decision(tmp_path)["options"] == DECISION["options"]


@pytest.mark.parametrize("content, why", [
    ("[1, 2]", "is not in this workspace's runbook.json"),
    ('{"decisions": "x"}', "is not in this workspace's runbook.json"),
    ("{not json", "cannot read"),
    (json.dumps({"decisions": [dict(DECISION, options=["fix"])]}), "malformed"),
    (json.dumps({"decisions": [dict(DECISION, options=None)]}), "malformed"),
    (json.dumps({"decisions": [dict(DECISION, ssot_digest="sha256:" + "b" * 64)]}), "another version of the SSOT"),
])
def test_a_hostile_or_stale_runbook_is_a_clear_refusal(tmp_path, content, why):
    (tmp_path / "runbook.json").write_text(content)
    with pytest.raises(_Refused, match=why):
        decision(tmp_path)


def test_a_fifo_or_a_link_is_refused_without_waiting(tmp_path):
    os.mkfifo(tmp_path / "runbook.json")
    with pytest.raises(_Refused, match="not a regular file"):
        decision(tmp_path)
    os.unlink(tmp_path / "runbook.json")
    (tmp_path / "elsewhere.json").write_text(json.dumps({"decisions": [DECISION]}))
    (tmp_path / "runbook.json").symlink_to(tmp_path / "elsewhere.json")
    with pytest.raises(_Refused, match="cannot read"):
        decision(tmp_path)
