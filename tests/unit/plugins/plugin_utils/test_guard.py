"""The launcher guard covers every variable the collection's roles and playbooks set (extra vars outrank them)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible_collections.ssot.governance.plugins.plugin_utils import _guard

ROOT = Path(__file__).resolve().parents[4]
TASK_FILES = sorted(ROOT.glob("roles/*/tasks/*.yml")) + sorted(ROOT.glob("playbooks/*.yml"))


def _set_names(node, out):
    """Names given a value by set_fact, register or a vars: block anywhere in a task file."""
    if isinstance(node, list):
        for item in node:
            _set_names(item, out)
    elif isinstance(node, dict):
        if isinstance(node.get("register"), str):
            out.add(node["register"])
        for key in ("ansible.builtin.set_fact", "set_fact"):
            if isinstance(node.get(key), dict):
                out.update(n for n in node[key] if n != "cacheable")
        if isinstance(node.get("vars"), dict):
            out.update(node["vars"])
        for value in node.values():
            if isinstance(value, (list, dict)):
                _set_names(value, out)


def internal_names():
    names = set()
    for path in TASK_FILES:
        _set_names(yaml.safe_load(path.read_text()), names)
    return sorted(n for n in names if n != "ssot_evidence")  # a task marker read by the callback, not a fact


def test_the_scan_finds_the_verdicts_path():
    names = internal_names()
    for wanted in ("hitl_gate_result", "hitl_gate_proceed", "hitl_gate_decisions", "ssot_digest", "ssot_doc",
                   "inventory_decisions", "inventory_artifacts", "__ssot_loaded"):
        assert wanted in names, wanted


@pytest.mark.parametrize("name", internal_names())
def test_every_variable_the_collection_sets_is_refused_from_the_command_line(name):
    assert _guard.owned(name), "%s does not carry one of the collection's prefixes %s" % (name, _guard.OWNED_PREFIXES)
    assert _guard.refused([name]) == [name]


def test_role_defaults_are_either_launcher_inputs_or_refused():
    for path in sorted(ROOT.glob("roles/*/defaults/main.yml")):
        for name in (yaml.safe_load(path.read_text()) or {}):
            assert _guard.owned(name), name
            assert _guard.refused([name]) == ([] if name in _guard.LAUNCHER_INPUTS else [name]), name


def test_the_switches_named_by_the_issue_are_refused():
    for name in ("__hitl_gate_answers", "hitl_gate_result", "hitl_gate_proceed", "hitl_gate_proceed_options",
                 "ssot_hitl", "ssot_digest", "ssot_require_recorder", "snapshot_restore_container",
                 "expose_host_method"):
        assert _guard.refused([name]) == [name]
    assert _guard.refused(["ssot_workspace", "my_own_var", "awx_user_name"]) == []


def test_identities_start_with_the_os_account_and_a_launcher_can_only_add(monkeypatch):
    monkeypatch.setenv("USER", "somebody-else")
    account = _guard.os_account()
    assert account and account != "somebody-else"
    assert _guard.run_identities({}) == [account]
    assert _guard.run_identities({"awx_user_name": "ana"}) == [account, "ana"]
    assert _guard.run_identities({"awx_user_name": ["x"]}) == [account]


def test_the_hitl_guide_lists_exactly_the_launcher_inputs_and_the_owned_prefixes():
    import re
    text = (ROOT / "docs" / "hitl.md").read_text()
    section = text[text.index("## What a launcher may set"):text.index("## Changes check their own approval")]
    table = [line for line in section.splitlines() if line.startswith("| `")]
    listed = set(re.findall(r"`([a-z_]+)`", " ".join(line.split("|")[1] for line in table)))
    assert listed == set(_guard.LAUNCHER_INPUTS)
    prefixes = set(re.findall(r"`([a-z_]+)\*`", section.split("|")[0]))
    assert prefixes == set(_guard.OWNED_PREFIXES)


@pytest.mark.parametrize("name", ["ansible_python_interpreter", "ansible_connection", "ansible_shell_executable",
                                  "ansible_become", "ansible_become_exe", "ansible_become_user", "ansible_host",
                                  "ansible_ssh_common_args", "ansible_playbook_python", "ansible_docker_interpreter",
                                  "ansible_module_compression", "ansible_remote_tmp", "ansible_port", "ansible_user"])
def test_a_launcher_cannot_choose_the_code_that_runs(name):
    assert _guard.refused([name]) == [name]
    assert name in _guard.refusal({name: "/tmp/evil"}, "en") and "chooses what code runs" in _guard.refusal(
        {name: "/tmp/evil"}, "en")


@pytest.mark.parametrize("value", ["{{ lookup('pipe', 'id') }}", "x{% if true %}y{% endif %}", "{# #}",
                                   ["{{ 1 }}"], {"k": "{{ 1 }}"}])
def test_a_template_in_a_launcher_input_is_refused(value):
    for name in ("ssot_workspace", "ssot_hosts", "ssot_approvals", "awx_user_name"):
        assert _guard.templated({name: value}) == [name]
        assert name in _guard.refusal({name: value}, "pt-BR")
    assert _guard.refusal({"ssot_workspace": "/srv/envs/prod", "my_var": "{{ allowed for others }}",
                           "ansible_verbosity": 2}, "en") is None
