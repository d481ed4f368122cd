"""The collection's action group (meta/runtime.yml): every module in it, and module_defaults reaching them."""

from __future__ import annotations

import os
import subprocess

import yaml

from ansible_collections.ssot.governance.tests.unit._tools import COLLECTIONS, ROOT, tool


def test_the_action_group_lists_every_module():
    runtime = yaml.safe_load((ROOT / "meta" / "runtime.yml").read_text())
    modules = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py") if not p.name.startswith("_"))
    assert runtime["action_groups"]["governance"] == modules


def test_module_defaults_for_the_group_reach_a_module(tmp_path):
    (tmp_path / "p.yml").write_text("""
- name: Module defaults through the collection's action group
  hosts: localhost
  gather_facts: false
  module_defaults:
    group/ssot.governance.governance:
      language: en
  tasks:
    - name: A module of the group gets the default language
      ssot.governance.runbook_verify:
        workspace: "{{ playbook_dir }}/no-workspace"
        fail_on_problem: false
      register: verified
    - name: In English, not the PT-BR default
      ansible.builtin.assert:
        that: verified.problems[0].detail == 'no journal in the workspace'
""")
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS), ANSIBLE_NOCOLOR="1")
    env.pop("ANSIBLE_CALLBACKS_ENABLED", None)
    proc = subprocess.run([tool("ansible-playbook"), str(tmp_path / "p.yml")],
                          cwd=tmp_path, env=env, text=True, capture_output=True, stdin=subprocess.DEVNULL, check=False)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]


def test_every_module_of_the_group_takes_language():
    """The roles' module_defaults give the whole group a language: a module that refused it would fail every task."""
    import ast

    def options(path, name="DOCUMENTATION"):
        tree = ast.parse(path.read_text())
        nodes = [n for n in ast.walk(tree) if isinstance(n, ast.Assign) and getattr(n.targets[0], "id", "") == name]
        return yaml.safe_load(nodes[0].value.value) or {}

    for path in sorted((ROOT / "plugins" / "modules").glob("*.py")):
        doc = options(path)
        fragments = [f.split(".")[2] for f in doc.get("extends_documentation_fragment") or []
                     if f.startswith("ssot.governance.") and f.count(".") == 2]
        documented = "language" in (doc.get("options") or {}) or any(
            "language" in (options(ROOT / "plugins" / "doc_fragments" / f"{f}.py").get("options") or {})
            for f in fragments)
        assert documented, f"{path.name} does not document language"
        action = ROOT / "plugins" / "action" / path.name
        if action.exists():
            code = action.read_text()
            if "ObservingAction" in code or "SnapshotVerdict" in code:
                # The shared controller half of the observing modules passes language on (plugin_utils/_observe.py).
                code = (ROOT / "plugins" / "plugin_utils" / "_observe.py").read_text()
            assert '"language"' in code, f"the {path.stem} action does not accept language"
