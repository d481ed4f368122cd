from __future__ import annotations

from ansible_collections.ssot.governance.plugins.plugin_utils._redact import MASK, Redactor

CANARY = "Canary-7f3a-Secret"


def r(**kw):
    return Redactor(environ={}, **kw)


def test_secret_keys_are_masked_at_any_depth():
    red = r()
    out = red.value({"login_password": CANARY, "nested": {"api_key": "k-123456", "PGPASSWORD": CANARY},
                     "user": "postgres", "token": 12345678})
    assert out == {"login_password": MASK, "nested": {"api_key": MASK, "PGPASSWORD": MASK}, "user": "postgres",
                   "token": MASK}


def test_learned_values_are_masked_everywhere_afterwards():
    red = r()
    red.value({"password": CANARY})
    assert red.text(f"psql said: password {CANARY} rejected") == f"psql said: password {MASK} rejected"
    assert red.value(["x", {"msg": f"...{CANARY}..."}]) == ["x", {"msg": f"...{MASK}..."}]


def test_dsn_passwords():
    red = r()
    assert red.text("postgresql://app:" + CANARY + "@db:5432/x") == f"postgresql://app:{MASK}@db:5432/x"
    assert red.text(f"host=db password={CANARY} user=app") == f"host=db password={MASK} user=app"
    assert red.text(f"password='{CANARY}'") == f"password='{MASK}'"
    assert red.text(f"later: {CANARY}") == f"later: {MASK}", "a DSN password is learned too"


def test_container_env_entries():
    red = r()
    out = red.value({"Config": {"Env": [f"POSTGRES_PASSWORD={CANARY}", "PGDATA=/var/lib/postgresql/data",
                                        "APP_SETTING=whatever-value", "PATH=/usr/bin"]}})
    assert out["Config"]["Env"] == [f"POSTGRES_PASSWORD={MASK}", "PGDATA=/var/lib/postgresql/data",
                                    f"APP_SETTING={MASK}", "PATH=/usr/bin"]


def test_secret_references_are_not_secrets():
    assert r().value({"password": {"env": "SSOT_PG_PASSWORD"}}) == {"password": {"env": "SSOT_PG_PASSWORD"}}


def test_environment_secrets_are_learned_at_start():
    red = Redactor(environ={"SSOT_PG_PASSWORD": CANARY, "HOME": "/root"})
    assert red.text(f"connecting with {CANARY}") == f"connecting with {MASK}"
    assert red.text("/root stays") == "/root stays"


def test_extra_patterns_and_limits():
    red = r(extra_patterns=["^db_conn$"])
    assert red.value({"db_conn": "host=x", "DB_CONN": "y-long-enough"}) == {"db_conn": MASK, "DB_CONN": MASK}
    long = red.value({"stdout": "x" * 5000}, limit=100)["stdout"]
    assert long.startswith("x" * 100) and "4900 more characters" in long


def test_short_values_are_not_learned():
    red = r()
    red.value({"password": "on"})
    assert red.text("listen on port") == "listen on port"


def test_the_working_directory_is_not_a_secret():
    # PWD and OLDPWD match the "pwd" pattern by name; masking them hid every workspace path.
    r = Redactor(environ={"PWD": "/srv/workspace", "OLDPWD": "/home/ana", "DB_PWD": "s3cr3t-value"})
    assert r.text("/srv/workspace/evidence and /home/ana") == "/srv/workspace/evidence and /home/ana"
    assert "s3cr3t-value" not in r.text("pw s3cr3t-value")
