"""Who is at a terminal: automation markers win over a terminal; the foreground check reads /proc."""

from __future__ import annotations

import os

import pytest

from ansible_collections.ssot.governance.plugins.plugin_utils import _terminal


@pytest.mark.parametrize("env, what", [
    ({"AWX_ISOLATED_DATA_DIR": "/runner/artifacts/1"}, "ansible-runner"),
    ({"ANSIBLE_STDOUT_CALLBACK": "awx_display"}, "ansible-runner"),
    ({"AWX_HOST": "https://awx.example"}, "AWX"),
    ({"CI": "true"}, "CI"),
    ({"SSOT_NONINTERACTIVE": "1"}, "SSOT_NONINTERACTIVE"),
])
def test_automated_runs_are_never_interactive(env, what):
    assert _terminal.automation(env) == what
    assert _terminal.terminal_state(env, pid=os.getpid()) == (False, "automated run (%s)" % what)


def test_markers_set_to_false_do_not_count():
    assert _terminal.automation({"CI": "false", "SSOT_NONINTERACTIVE": "0", "ANSIBLE_STDOUT_CALLBACK": "yaml"}) is None


def test_a_process_without_a_terminal_is_not_interactive(tmp_path):
    # pytest's stdin under `make test` is not a terminal, or is one we cannot be sure of: only assert the
    # cases that do not depend on how the suite was started.
    assert _terminal.terminal_state({}, pid=2 ** 22 + 7)[0] is False  # no such process


def test_process_groups_parses_names_with_spaces_and_parentheses(tmp_path, monkeypatch):
    stat = "4242 (ansible (x) y) S 1 4242 4242 34816 4242 4194560 0 0"
    real_open = open

    def fake_open(path, *a, **kw):
        if path == "/proc/4242/stat":
            import io
            return io.StringIO(stat)
        return real_open(path, *a, **kw)

    monkeypatch.setattr("builtins.open", fake_open)
    assert _terminal.process_groups(4242) == (4242, 4242)
