"""Every plugin's documentation renders with ansible-doc (what a user reads first)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from ansible_collections.ssot.governance.tests.unit._tools import COLLECTIONS, ROOT, tool

PLUGINS = [("module", p.stem) for p in sorted((ROOT / "plugins" / "modules").glob("*.py"))]
PLUGINS += [("lookup", p.stem) for p in sorted((ROOT / "plugins" / "lookup").glob("*.py"))]
PLUGINS += [("callback", p.stem) for p in sorted((ROOT / "plugins" / "callback").glob("*.py"))]
PLUGINS += [("filter", p.stem) for p in sorted((ROOT / "plugins" / "filter").glob("*.yml"))]


@pytest.mark.parametrize("kind, name", PLUGINS)
def test_ansible_doc_renders(kind, name):
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS), ANSIBLE_NOCOLOR="1")
    fqcn = f"ssot.governance.{name}"
    proc = subprocess.run([tool("ansible-doc"), "-t", kind, "--json", fqcn],
                          text=True, capture_output=True, env=env, check=False)
    assert proc.returncode == 0 and "WARNING" not in proc.stderr, proc.stderr
    doc = json.loads(proc.stdout)[fqcn]
    assert doc["doc"]["description"]
    assert kind == "callback" or doc["examples"].strip()
    text = subprocess.run([tool("ansible-doc"), "-t", kind, fqcn],
                          text=True, capture_output=True, env=env, check=False).stdout
    assert "version();" in text or kind != "module" or name != "pg_check"
    if kind == "module":
        # Every example calls the module with options it has (fragments included).
        import yaml
        options = doc["doc"]["options"]
        for task in yaml.safe_load(doc["examples"]):
            args = task.get(fqcn)
            if isinstance(args, dict):
                unknown = set(args) - set(options)
                assert not unknown, f"{fqcn} example {task.get('name')!r} uses unknown options {unknown}"


def test_the_isolation_sql_in_docs_awx_is_the_one_the_tests_prove():
    """docs/awx.md shows the administrator's SQL; its canonical copy is plugins/plugin_utils/_store.py (which the
    isolation test runs on a real PostgreSQL)."""
    from ansible_collections.ssot.governance.plugins.plugin_utils import _store
    doc = (ROOT / "docs" / "awx.md").read_text()
    for block in (_store.SCHEMA_SQL, _store.ISOLATION_SQL, _store.TEAM_GRANT_SQL.replace("{role}", "team_a")):
        assert block.strip() in doc
