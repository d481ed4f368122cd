"""The controller's word on a snapshot's verdict (plugin_utils/_observe.py SnapshotVerdict.settle): kept only for the
snapshot the task asked about, and a passed restore test of another manifest than the recorded one is a failed one."""

from __future__ import annotations

from types import SimpleNamespace

from ansible_collections.ssot.governance.plugins.plugin_utils._observe import SnapshotVerdict


def settle(args, result):
    action = SimpleNamespace(_task=SimpleNamespace(args=args))
    return SnapshotVerdict.settle(action, None, result, [])


def test_a_restore_test_of_another_manifest_than_the_recorded_one_never_passes():
    args = {"path": "/ws/snapshots/s1", "manifest_sha256": "a" * 64, "language": "en"}
    result = {"snapshot": {"path": "/ws/snapshots/s1", "restore": "passed"}, "manifest_sha256": "b" * 64}
    assert settle(args, result) is None and result["snapshot"]["restore"] == "failed"
    result = {"snapshot": {"path": "/ws/snapshots/s1", "restore": "passed"}}    # the module did not say which
    settle(args, result)
    assert result["snapshot"]["restore"] == "failed"
    result = {"snapshot": {"path": "/ws/snapshots/s1", "restore": "passed"}, "manifest_sha256": "a" * 64}
    settle(args, result)
    assert result["snapshot"]["restore"] == "passed"


def test_a_verdict_about_another_snapshot_is_refused():
    args = {"path": "/ws/snapshots/s1", "language": "en"}
    result = {"snapshot": {"path": "/ws/snapshots/other", "restore": "passed"}}
    refused = settle(args, result)
    assert refused and refused[0]["record"] == "snapshot" and "snapshot" not in result
