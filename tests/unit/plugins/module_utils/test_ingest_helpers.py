"""Ingestion helpers that need no server: globals split, dump detection, a database's section of a
pg_dumpall, and the example's approval naming the decision the module raises."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
import yaml
from ansible_collections.ssot.governance.plugins.module_utils import _decisions, _ingest, _snapshot

ROOT = Path(__file__).resolve().parents[4]

GLOBALS = '''--
-- Roles
--

CREATE ROLE postgres;
ALTER ROLE postgres WITH SUPERUSER INHERIT CREATEROLE CREATEDB LOGIN REPLICATION BYPASSRLS;
CREATE ROLE shop_reader;
ALTER ROLE shop_reader WITH NOSUPERUSER INHERIT NOLOGIN PASSWORD 'md5aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa';
CREATE ROLE "Odd ""Name""";
GRANT shop_reader TO "Odd ""Name""" GRANTED BY postgres;
GRANT shop_reader TO postgres GRANTED BY postgres;
CREATE TABLESPACE fast OWNER postgres LOCATION '/ssd';
'''


def test_globals_create_what_the_target_lacks_and_report_what_it_has():
    plan, statements = _ingest.split_globals(GLOBALS, {"postgres"})
    assert {k: plan[k] for k in ("create", "conflicts", "skipped")} == {
        "create": ["shop_reader", 'Odd "Name"'], "conflicts": ["postgres"], "skipped": ["CREATE TABLESPACE fast"]}
    # What the card shows: every statement that runs, a password hash masked; and the sha256 of what runs.
    assert plan["statements"][1] == "ALTER ROLE shop_reader WITH NOSUPERUSER INHERIT NOLOGIN PASSWORD '***';"
    assert len(plan["statements"]) == len(statements) and plan["sha256"] == hashlib.sha256(
        "\n".join(statements).encode()).hexdigest()
    assert not any("postgres WITH" in s for s in statements)          # an existing role is never altered
    assert 'GRANT shop_reader TO "Odd ""Name""" GRANTED BY postgres;' in statements
    assert "GRANT shop_reader TO postgres GRANTED BY postgres;" not in statements
    assert "md5aaaa" not in repr(plan)                                  # never a password hash


# A role name is anything the source's owner chose: with a newline in it, a line-by-line reader of the dump kept
# "CREATE ROLE inj_e;SELECT 'INJECTED'" outside the quotes. Statements are read whole, and such a name refuses.
HOSTILE = [
    'CREATE ROLE ";\nCREATE ROLE inj_e;SELECT \'INJECTED\' AS x--\nq";\n',
    'CREATE ROLE ok;\nALTER ROLE ok WITH LOGIN;\nGRANT ok TO "a\rb" GRANTED BY postgres;\n',
    'CREATE ROLE "tab\there";\n',
]


@pytest.mark.parametrize("text", HOSTILE)
def test_a_role_name_with_a_control_character_refuses_the_source(text):
    with pytest.raises(_ingest.IngestError) as caught:
        _ingest.split_globals(text, {"postgres"})
    assert caught.value.code == "ingest.error.role_name"


def test_statements_are_read_whole_whatever_their_literals_hold():
    text = ("\\restrict k\n--\n-- Roles\n--\nCREATE ROLE a;\nCOMMENT ON ROLE a IS 'one\ntwo; DROP ROLE postgres; --';\n"
            "ALTER ROLE a WITH LOGIN PASSWORD 'md5''x;y';\n\\unrestrict k\n")
    assert _ingest.sql_statements(text) == [
        "CREATE ROLE a;", "COMMENT ON ROLE a IS 'one\ntwo; DROP ROLE postgres; --';",
        "ALTER ROLE a WITH LOGIN PASSWORD 'md5''x;y';"]
    plan, statements = _ingest.split_globals(text, {"postgres"})
    assert statements == _ingest.sql_statements(text) and plan["statements"][2] == "ALTER ROLE a WITH LOGIN PASSWORD '***';"


def test_dump_formats_are_told_by_their_first_bytes(tmp_path):
    (tmp_path / "a.dump").write_bytes(b"PGDMP\x01\x0e")
    (tmp_path / "a.sql").write_text("-- PostgreSQL database dump\n")
    (tmp_path / "dir").mkdir()
    (tmp_path / "empty").mkdir()
    (tmp_path / "dir" / "toc.dat").write_bytes(b"PGDMP")
    assert [_ingest.detect_dump(str(tmp_path / n)) for n in ("a.dump", "a.sql", "dir", "empty")] == [
        "custom-dump", "sql-dump", "directory", None]


DUMPALL = b"""--
-- PostgreSQL database cluster dump
--
CREATE ROLE shop_reader;
--
-- Databases
--

--
-- Database "template1" dump
--
\\connect template1
--
-- Database "legacy_shop" dump
--

CREATE DATABASE legacy_shop WITH TEMPLATE = template0 ENCODING = 'UTF8';
\\connect legacy_shop
COPY public.orders (id) FROM stdin;
1
\\.
--
-- Database "postgres" dump
--
\\connect postgres
--
-- PostgreSQL database cluster dump complete
--
"""


def test_one_database_section_of_a_pg_dumpall():
    section = b"".join(_snapshot.database_section(io.BytesIO(DUMPALL), "legacy_shop"))
    assert section.startswith(b'-- Database "legacy_shop" dump') and b"CREATE DATABASE legacy_shop" in section
    assert b"COPY public.orders" in section and b"template1" not in section and b"connect postgres" not in section
    assert b"CREATE ROLE" not in section
    assert b"".join(_snapshot.database_section(io.BytesIO(DUMPALL), None)) == DUMPALL
    assert b"".join(_snapshot.database_section(io.BytesIO(DUMPALL), "absent")) == b""


def test_the_ingest_decision_id_is_the_digest_of_its_facts():
    ssot = yaml.safe_load((ROOT / "examples" / "legacy-pg" / "ssot.yml").read_text())
    src = ssot["sources"][0]
    (db,) = src["databases"]
    facts = {"source": src["id"], "database": db, "target": ssot["target"]["container"], "action": "load"}
    expected = _decisions.decision_id("ingest", "%s.%s.load" % (src["id"], db), facts)
    assert expected.startswith("ingest.legacy-shop.legacy_shop.load.")
    assert _decisions.consistent(_decisions.build("ingest", "%s.%s.load" % (src["id"], db), facts,
                                                  ("ingest", "skip_ingest"), "sha256:" + "0" * 64, "pt-BR"))
