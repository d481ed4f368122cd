"""The settings plan of the MODIFY play."""

from __future__ import annotations

from ansible_collections.ssot.governance.plugins.plugin_utils._plan import settings_plan

CHECKS = [
    {"id": "setting.work_mem", "status": "deviation", "actual": "4MB", "decision": "d-work"},
    {"id": "setting.max_connections", "status": "deviation", "actual": "100", "decision": "d-max"},
    {"id": "setting.wal_level", "status": "deviation", "actual": "replica", "decision": "d-wal"},
    {"id": "setting.log_line_prefix", "status": "deviation", "actual": "x", "decision": "d-llp"},
    {"id": "setting.timezone", "status": "match", "actual": "UTC"},
    {"id": "check.other", "status": "deviation", "decision": "d-other"},
]
ROWS = [
    {"name": "work_mem", "setting": "4096", "unit": "kB", "context": "user", "source": "default", "sourcefile": ""},
    {"name": "max_connections", "setting": "100", "unit": None, "context": "postmaster",
     "source": "configuration file", "sourcefile": "/data/postgresql.auto.conf"},
    {"name": "wal_level", "setting": "replica", "unit": None, "context": "postmaster", "source": "command line",
     "sourcefile": ""},
    {"name": "log_line_prefix", "setting": "x", "unit": None, "context": "sighup", "source": "configuration file",
     "sourcefile": "/data/postgresql.conf"},
]
SETTINGS = {"work_mem": "8MB", "max_connections": {"equals": 50}, "wal_level": "logical",
            "log_line_prefix": {"regex": "%m"}, "timezone": "UTC"}


def test_plan_sets_resets_and_skips_with_reasons():
    plan = {e["name"]: e for e in settings_plan(CHECKS, ROWS, SETTINGS, ["d-work", "d-max", "d-wal", "d-llp"], "en")}
    assert set(plan) == {"work_mem", "max_connections", "wal_level", "log_line_prefix"}
    assert plan["work_mem"] == dict(plan["work_mem"], action="set", target="8MB", rollback="reset", restart=False,
                                    current="4096")
    assert plan["max_connections"]["target"] == "50" and plan["max_connections"]["restart"] is True
    assert plan["max_connections"]["rollback"] == "set"  # the old value was an earlier ALTER SYSTEM
    assert plan["wal_level"]["action"] == "skip" and "server_args" in plan["wal_level"]["reason"]
    assert plan["log_line_prefix"]["action"] == "skip" and "operator" in plan["log_line_prefix"]["reason"]


def test_only_approved_decisions_are_planned():
    assert [e["name"] for e in settings_plan(CHECKS, ROWS, SETTINGS, ["d-work"])] == ["work_mem"]
    assert settings_plan(CHECKS, ROWS, SETTINGS, []) == []


def test_hba_without_trust_replaces_only_the_method():
    from ansible_collections.ssot.governance.plugins.plugin_utils._plan import hba_without_trust
    hba = ("# TYPE DATABASE USER ADDRESS METHOD\n"
           "local   all   all                 trust\n"
           "host\tall\tall\t127.0.0.1/32\ttrust # loopback\n"
           "host all all 0.0.0.0/0 md5\n"
           "host all trust_user 10.0.0.0/8 trust\n"
           "host all trust 10.0.0.0/8 md5\n")
    got = hba_without_trust(hba)
    assert got["refused"] is None
    lines = got["content"].splitlines()
    assert lines[0] == "# TYPE DATABASE USER ADDRESS METHOD"
    assert lines[1] == "local all all peer"
    assert lines[2] == "host all all 127.0.0.1/32 md5  # loopback"
    assert lines[3] == "host all all 0.0.0.0/0 md5"
    assert lines[4] == "host all trust_user 10.0.0.0/8 md5"  # a user named trust_user is not the method
    assert lines[5] == "host all trust 10.0.0.0/8 md5"  # a role named trust stays
    assert [c["line"] for c in got["changes"]] == [2, 3, 5]


def test_hba_with_a_backslash_is_refused():
    from ansible_collections.ssot.governance.plugins.plugin_utils._plan import hba_without_trust
    got = hba_without_trust('host all "/^app\\d+$" 10.0.0.0/8 trust\n')
    assert got["refused"] and got["changes"] == []
