"""The fleet's pure parts: where the fleet view goes, its rows, the merge, shared workspaces, the gate."""

from __future__ import annotations

import json

from ansible_collections.ssot.governance.plugins.plugin_utils import _fleet


def _panel(ws, pending=(), status="done"):
    ws.mkdir(parents=True, exist_ok=True)
    (ws / "project-panel.json").write_text(json.dumps({
        "project": {"name": ws.name}, "ssot": {"digest": "sha256:x"},
        "milestones": [{"phase": 3, "title": "Validação", "status": status}],
        "decisions_pending": [{"id": d, "title": "t"} for d in pending], "deviations": [{"id": "a"}] * len(pending)}))
    (ws / "runbook.json").write_text(json.dumps({"runs": [{"id": "r1", "playbook": "validate.yml", "status": "ok"}]}))


def test_fleet_dir_is_the_parent_of_several_workspaces_and_none_for_a_lone_one(tmp_path):
    a, b = str(tmp_path / "ws" / "a"), str(tmp_path / "ws" / "b")
    assert _fleet.fleet_dir([a, b]) == str(tmp_path / "ws")
    assert _fleet.fleet_dir([a]) is None
    (tmp_path / "ws").mkdir()
    (tmp_path / "ws" / _fleet.FLEET_JSON).write_text("{}")
    assert _fleet.fleet_dir([a]) == str(tmp_path / "ws"), "a --limit run keeps an existing fleet view current"
    assert _fleet.fleet_dir([a], str(tmp_path / "elsewhere")) == str(tmp_path / "elsewhere")
    # Workspaces in different folders: no guess (their common path could be /), only the configured folder.
    assert _fleet.fleet_dir([a, str(tmp_path / "other" / "c")]) is None
    assert _fleet.fleet_dir([]) is None


def test_rows_come_from_each_panel_and_a_limited_run_keeps_the_other_rows(tmp_path):
    where = tmp_path / "ws"
    _panel(where / "a")
    _panel(where / "b", pending=["validate.work_mem"], status="blocked")
    doc = _fleet.write_fleet(str(where), [_fleet.row(h, str(where / h), str(where)) for h in ("a", "b")], "pt-BR",
                             "2026-11-30T00:00:00Z")
    assert [(r["host"], len(r["decisions_pending"]), r["deviations"], r["panel"]) for r in doc["environments"]] == [
        ("a", 0, 0, "a/project-panel.html"), ("b", 1, 1, "b/project-panel.html")]
    html = (where / _fleet.FLEET_HTML).read_text()
    assert html.count('<tr class="env"') == 2 and "validate.work_mem" in html and "<script" not in html
    _panel(where / "a", pending=["x"])
    again = _fleet.write_fleet(str(where), [_fleet.row("a", str(where / "a"), str(where))], "en", "t")
    assert [(r["host"], len(r["decisions_pending"])) for r in again["environments"]] == [("a", 1), ("b", 1)]
    # A workspace that is gone loses its row.
    (where / "b" / "project-panel.json").unlink()
    assert [r["host"] for r in _fleet.merge(again, [])] == ["a"]


def test_a_hostile_value_in_a_panel_is_text_in_the_fleet_page(tmp_path):
    where = tmp_path / "ws"
    _panel(where / "a", pending=['<script>alert(1)</script>'])
    _fleet.write_fleet(str(where), [_fleet.row("a", str(where / "a"), str(where))], "pt-BR", "t")
    html = (where / _fleet.FLEET_HTML).read_text()
    assert "<script>alert" not in html and "&lt;script&gt;" in html


def test_two_hosts_naming_one_workspace_are_both_named():
    assert _fleet.shared({"h1": "/w", "h2": "/w", "h3": "/x", "h4": None}) == {"/w": ["h1", "h2"]}


def test_the_gate_refuses_only_the_hosts_the_recorder_could_not_open(monkeypatch):
    from ansible_collections.ssot.governance.plugins.plugin_utils import _runctx
    monkeypatch.setattr(_runctx, "_CURRENT", [])
    assert _runctx.refusal_for("h1") is None  # no callback in this process
    run = _runctx.start()
    assert _runctx.refusal_for("h1") is None
    run.refuse("h1", "busy")
    assert _runctx.refusal_for("h1") == "busy" and _runctx.refusal_for("h2") is None


def test_a_link_planted_at_the_fleet_page_is_refused_never_written_through(tmp_path):
    import pytest
    from ansible_collections.ssot.governance.plugins.plugin_utils._workspace import WorkspaceUnsafe
    where = tmp_path / "ws"
    _panel(where / "a")
    outside = tmp_path / "outside.html"
    outside.write_text("kept")
    (where / _fleet.FLEET_HTML).symlink_to(outside)
    with pytest.raises(WorkspaceUnsafe):
        _fleet.write_fleet(str(where), [_fleet.row("a", str(where / "a"), str(where))], "en", "t")
    assert outside.read_text() == "kept" and (where / _fleet.FLEET_HTML).is_symlink()
    assert not [p.name for p in where.iterdir() if ".tmp-" in p.name], "no staged file left behind"
    # A row is read through the workspace's folder: a panel that is a link gives no row.
    (where / "b").mkdir()
    (where / "b" / "project-panel.json").symlink_to(where / "a" / "project-panel.json")
    assert _fleet.row("b", str(where / "b"), str(where)) is None
