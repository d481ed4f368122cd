from __future__ import annotations

import pytest

from ansible_collections.ssot.governance.plugins.module_utils import _pg


@pytest.mark.parametrize("num, major", [(90424, "9.4"), (90600, "9.6"), (100023, "10"), (150018, "15"), ("120001", "12")])
def test_major_from_version_num(num, major):
    assert _pg.major_from_version_num(num) == major


@pytest.mark.parametrize("expected, actual, status", [
    ("replica", "replica", _pg.MATCH),
    ("logical", "replica", _pg.DEVIATION),
    (True, "on", _pg.MATCH),
    (False, "on", _pg.DEVIATION),
    (100, "100", _pg.MATCH),
    ({"equals": "replica"}, "replica", _pg.MATCH),
    ({"in": ["replica", "logical"]}, "logical", _pg.MATCH),
    ({"in": ["replica", "logical"]}, "minimal", _pg.DEVIATION),
    ({"regex": "^pg_"}, "pg_stat_statements", _pg.MATCH),
    ({"regex": "^auto"}, "pg_stat_statements", _pg.DEVIATION),
    ({"not_empty": True}, "", _pg.DEVIATION),
    ({"not_empty": True}, "x", _pg.MATCH),
    ({"contains": "pg_stat_statements"}, "auto_explain, pg_stat_statements", _pg.MATCH),
    ({"contains": ["auto_explain", "pg_cron"]}, "auto_explain,pg_stat_statements", _pg.DEVIATION),
])
def test_compare(expected, actual, status):
    assert _pg.compare(expected, actual)[0] == status


@pytest.mark.parametrize("bad", [{"equals": 1, "in": [1]}, {"like": "x"}, {}])
def test_bad_expectations_are_refused(bad):
    with pytest.raises(_pg.CheckError) as raised:
        _pg.parse_expectation(bad)
    assert "use a plain value, or one of" in raised.value.render("en")
    assert "use um valor simples, ou um de" in raised.value.render("pt-BR")


def test_invalid_regex_is_an_error_not_a_crash():
    with pytest.raises(_pg.CheckError) as raised:
        _pg.compare({"regex": "("}, "x")
    assert raised.value.render("en").startswith("invalid regex '('")
    assert raised.value.render("pt-BR").startswith("regex inválida '('")


def test_setting_names_accept_identifiers_only():
    assert _pg.SETTING_NAME.match("wal_level")
    assert _pg.SETTING_NAME.match("pg_stat_statements.max")
    assert not _pg.SETTING_NAME.match("wal_level; DROP TABLE x")
    assert not _pg.SETTING_NAME.match("a.b.c")


def test_psql_block_looks_like_psql():
    text = _pg.psql_block("SHOW wal_level;", ["wal_level"], [("replica",)])
    assert text.splitlines() == ["=> SHOW wal_level;", " wal_level", "-----------", " replica", "(1 row)"]
    two = _pg.psql_block("SELECT 1;", ["a", "b"], [(1, None), (22, "x")])
    assert two.splitlines()[1:3] == [" a  | b", "----+---"]  # as psql centres a header
    assert two.splitlines()[-1] == "(2 rows)"


class FakeSession:
    """Stands in for the connection in a pure unit test of the verdict logic;
    the integration tests run the same code against real servers."""

    def __init__(self, answers, language="en"):
        self.answers = answers
        self.language = language
        self.queries = []

    def query(self, sql):
        self.queries.append(sql)
        return ["x"], [(self.answers[sql],)]


def test_run_checks_reports_expected_and_actual():
    s = FakeSession({"SELECT version();": "PostgreSQL 10.23 on x86_64", "SHOW server_version_num;": "100023",
                     "SHOW transaction_read_only;": "on", "SHOW wal_level;": "replica"})
    r = _pg.run_checks(s, "10", {"wal_level": "logical", "bad name;": "x"})
    by_id = {c["id"]: c for c in r["checks"]}
    assert by_id["postgres.major"]["status"] == _pg.MATCH
    assert by_id["setting.wal_level"] == {
        "id": "setting.wal_level", "description": "setting wal_level", "sql": "SHOW wal_level;",
        "expected": "logical", "actual": "replica", "status": _pg.DEVIATION}
    assert by_id["setting.bad name;"]["status"] == _pg.ERROR
    assert "SHOW bad name;;" not in s.queries
    assert r["deviations"] == ["setting.bad name;", "setting.wal_level"]
    assert r["matched"] == 1 and r["read_only_session"] is True


def test_check_texts_are_in_the_sessions_language():
    """Regression: the deviation title 'setting %s' and the check texts reached the PT-BR panel in English."""
    s = FakeSession({"SELECT version();": "PostgreSQL 10.23", "SHOW server_version_num;": "100023",
                     "SHOW transaction_read_only;": "on", "SHOW wal_level;": "replica",
                     "SHOW shared_preload_libraries;": ""}, language="pt-BR")
    r = _pg.run_checks(s, "10", {"wal_level": {"in": ["logical", "minimal"]}, "shared_preload_libraries": {
        "contains": "pg_stat_statements"}, "bad name;": "x"})
    by_id = {c["id"]: c for c in r["checks"]}
    assert by_id["postgres.major"]["description"] == "versão majoritária do servidor"
    assert by_id["setting.wal_level"]["description"] == "parâmetro wal_level"
    assert by_id["setting.wal_level"]["expected"] == "um de logical, minimal"
    assert by_id["setting.shared_preload_libraries"]["expected"] == "contém pg_stat_statements"
    assert by_id["setting.bad name;"]["message"] == "'bad name;' não é nome de parâmetro"


def test_a_refused_connection_says_what_to_do_in_the_operators_language():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(_pg.CheckError) as err:
        _pg.ReadOnlySession("127.0.0.1", port, "postgres", "Canary-pw-123", "postgres", 3, language="pt-BR")
    assert "recusou a conexão" in str(err.value) and "provision" in str(err.value)
    assert "Canary-pw-123" not in str(err.value)


@pytest.mark.parametrize("detail, words", [
    ('FATAL:  password authentication failed for user "postgres"', "não aceitou o usuário"),
    ('FATAL:  no pg_hba.conf entry for host "172.17.0.1"', "não aceitou o usuário"),
    ("timeout expired", "não respondeu em 5 s"),
    ('FATAL:  database "shop" does not exist', "não existe"),
    ("something else postgresql://u:Canary-pw-9@h/db", "Não foi possível conectar"),
])
def test_connection_failures_are_classified(detail, words):
    msg = _pg.connect_error(detail, "127.0.0.1", 5432, "postgres", "shop", 5, "Canary-pw-9")
    assert words in msg and "Canary-pw-9" not in msg
