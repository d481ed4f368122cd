"""The roles give their modules the connection and the language once, through module_defaults (the collection's action
group, community.postgresql's and pg_check), not in every task: one place says how a role reaches PostgreSQL."""

from __future__ import annotations

import pytest
import yaml

from ansible_collections.ssot.governance.tests.unit._tools import ROOT

TASK_FILES = sorted(p for p in (ROOT / "roles").glob("*/tasks/*.yml") if p.parts[-3] != "ssot")
DEFAULTS = {
    "group/ssot.governance.governance": {"language": "{{ ssot_language }}"},
    "group/community.postgresql.all": "{{ ssot_pg_login }}",
    "ssot.governance.pg_check": "{{ ssot_pg_login }}",
}


def tasks(items):
    for item in items or []:
        yield item
        for part in ("block", "rescue", "always"):
            yield from tasks(item.get(part))


def is_change(content):
    """A task file that is one change (ssot.governance.change) and its report: the change reaches the server itself,
    from the SSOT, and takes the language as its own option - nothing for module_defaults to give."""
    return len(content) == 2 and "ssot.governance.change" in content[0] and "ansible.builtin.debug" in content[1]


@pytest.mark.parametrize("path", TASK_FILES, ids=[str(p.relative_to(ROOT / "roles")) for p in TASK_FILES])
def test_each_task_file_is_one_block_with_the_shared_defaults(path):
    content = yaml.safe_load(path.read_text())
    if is_change(content):
        args = content[0]["ssot.governance.change"]
        assert set(content[0]) == {"name", "ssot.governance.change", "register"}, path
        assert set(args) <= {"kind", "rollback", "language", "interactive", "prompt_retries", "wait_retries"}, path
        return
    assert len(content) == 1 and content[0]["module_defaults"] == DEFAULTS, path
    for task in tasks(content[0]["block"]):
        module = next((k for k in task if k.startswith(("ssot.governance.", "community.postgresql."))), None)
        args = task.get(module) or {} if module else {}
        # An option given in a task overrides the default for that task alone: only where it differs.
        assert args.get("language") is None, f"{path.name}: {task.get('name')} passes language itself"
        for option in ("login_host", "login_user", "login_password", "login_db"):
            assert option not in args, f"{path.name}: {task.get('name')} passes {option} itself"
        assert args.get("login_port") in (None,) or "__expose_container" in args["login_port"], task.get("name")


def test_the_connection_is_written_once():
    texts = "".join(p.read_text() for p in (ROOT / "roles").rglob("*.yml"))
    assert texts.count("login_password:") == 1
    login = yaml.safe_load((ROOT / "roles" / "ssot" / "vars" / "main.yml").read_text())["ssot_pg_login"]
    assert sorted(login) == ["login_db", "login_host", "login_password", "login_port", "login_user"]
    assert "ssot.governance.secret" in login["login_password"]
