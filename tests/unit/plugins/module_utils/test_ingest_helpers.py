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

# A source's catalog as its owner made it: attributes, a membership in the target's superuser, role settings,
# clear-text and hashed passwords, names built to break out of quotes (read as data: never SQL to replay).
CATALOG = {
    "roles": [
        {"name": "postgres", "super": True, "login": True, "inherit": True, "password": "md5" + "a" * 32},
        {"name": "shop_reader", "super": True, "createrole": True, "createdb": True, "replication": True,
         "bypassrls": True, "login": True, "inherit": True, "connlimit": 5, "password": "md5" + "b" * 32},
        {"name": "shop_app", "login": True, "inherit": True, "createdb": True,
         "password": "SCRAM-SHA-256$4096:c2FsdA==$c3RvcmVk:c2VydmVy"},
        {"name": 'Odd "Name"\'; DROP ROLE postgres; --', "login": False, "inherit": False, "password": "plain-text"},
        {"name": "shop_owner", "login": False, "inherit": True, "password": None, "valid_until": "2030-01-01 00:00:00+00"},
    ],
    "members": [
        {"role": "postgres", "member": "shop_reader", "admin": False},
        {"role": "shop_owner", "member": "shop_app", "admin": True},
        {"role": "shop_reader", "member": "postgres", "admin": False},
    ],
    "settings": [{"role": "shop_reader", "database": None, "names": ["search_path", "log_statement"]}],
}


def test_roles_are_built_from_the_catalog_never_copied():
    plan, statements = _ingest.build_roles(CATALOG, {"postgres"}, {"shop_app": {"attributes": ["CREATEDB"]}})
    assert plan["create"] == ["shop_reader", "shop_app", 'Odd "Name"\'; DROP ROLE postgres; --', "shop_owner"]
    assert plan["conflicts"] == ["postgres"]
    assert statements[0] == ('CREATE ROLE "shop_reader" WITH LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE '
                             "NOREPLICATION NOBYPASSRLS CONNECTION LIMIT 5 PASSWORD 'md5%s';" % ("b" * 32))
    assert statements[1].startswith('CREATE ROLE "shop_app" WITH LOGIN INHERIT NOSUPERUSER CREATEDB NOCREATEROLE')
    assert statements[2] == ('CREATE ROLE "Odd ""Name""\'; DROP ROLE postgres; --" WITH NOLOGIN NOINHERIT '
                             "NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;")
    assert "VALID UNTIL '2030-01-01 00:00:00+00'" in statements[3]
    # Memberships only among the created roles; never in an existing role, never onto one; never the admin option.
    assert statements[4:] == ['GRANT "shop_owner" TO "shop_app";']
    built = [s for s in statements if s.startswith(("ALTER", "COMMENT")) or '"postgres" WITH' in s
             or 'TO "postgres"' in s]
    assert built == []
    left = dict(((d["role"], d["what"]), d) for d in plan["dropped"])
    assert left[("shop_reader", "attributes")]["names"] == list(_ingest.ATTRIBUTES)
    assert left[("shop_reader", "membership")]["of"] == "postgres"
    assert left[("postgres", "membership")]["of"] == "shop_reader", "an existing role is never made a member"
    assert left[("shop_app", "admin_option")]["of"] == "shop_owner"
    assert left[("shop_reader", "settings")]["names"] == ["search_path", "log_statement"]
    assert left[('Odd "Name"\'; DROP ROLE postgres; --', "password")]["why"] == "not_hashed"
    # What the card shows: the statements, hashes masked; the sha256 binds exactly what runs.
    assert plan["statements"][0].endswith("PASSWORD '***';") and "md5" not in repr(plan)
    assert plan["sha256"] == hashlib.sha256("\n".join(statements).encode()).hexdigest()


def test_what_the_ssot_grants_is_the_only_way_to_more():
    allowed = {"shop_reader": {"attributes": ["SUPERUSER", "REPLICATION"], "member_of": ["postgres"]}}
    plan, statements = _ingest.build_roles(CATALOG, {"postgres"}, allowed, bypassrls=False)
    assert " SUPERUSER " in statements[0] and " REPLICATION " in statements[0] and "BYPASSRLS" not in statements[0]
    assert 'GRANT "postgres" TO "shop_reader";' in statements
    # An attribute the source's role does not have is never added by the SSOT.
    plan, statements = _ingest.build_roles(CATALOG, {"postgres"}, {"shop_owner": {"attributes": ["SUPERUSER"]}})
    assert "NOSUPERUSER" in statements[3]
    # Another SSOT, another digest: the approval of one does not cover the other.
    assert plan["sha256"] != _ingest.build_roles(CATALOG, {"postgres"}, allowed)[0]["sha256"]


@pytest.mark.parametrize("name", ["a\nb", "tab\there", "cr\rx", "nul\x00", "esc\x1b[2K", "ghost\u2028reader",
                                  "next\x85line", "csi\x9b2J", "rtl\u202eevil"])
def test_a_role_name_with_a_control_character_refuses_the_source(name):
    for catalog in ({"roles": [{"name": name}]}, {"roles": [{"name": "ok"}], "members": [{"role": "ok", "member": name}]}):
        with pytest.raises(_ingest.IngestError) as caught:
            _ingest.build_roles(catalog, {"postgres"}, {})
        assert caught.value.code == "ingest.error.role_name"


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


def test_a_folder_is_copied_into_a_container_with_regular_files_only(tmp_path):
    """The tar a dump folder travels in holds its files, never a link (pg_restore in the target would follow it)."""
    from ansible_collections.ssot.governance.tests.unit.plugins.modules.fake_engine import FakeEngine
    folder = tmp_path / "shopdir"
    folder.mkdir()
    (folder / "toc.dat").write_text("x")
    _ingest.copy_folder_in(FakeEngine(), str(folder), "pg-new", "/tmp/ssot-ingest-dir", 999)
    (folder / "blob_1.dat").symlink_to("/proc/1/environ")
    with pytest.raises(_ingest.IngestError) as caught:
        _ingest.copy_folder_in(FakeEngine(), str(folder), "pg-new", "/tmp/ssot-ingest-dir", 999)
    assert "blob_1.dat" in str(caught.value.params.get("names"))


@pytest.mark.parametrize("line, safe", [
    (b"16393 blob_16393.dat\n", True), (b"16393 blob_16393.dat.gz\r\n", True), (b"\n", True),
    (b"16393 ../../proc/1/environ\n", False), (b"16393 /etc/passwd\n", False), (b"16393 ..\n", False),
    (b"16393 .\n", False), (b"16393 a b\n", False), (b"x blob.dat\n", False), (b"16393 sub/blob.dat\n", False),
])
def test_a_large_objects_list_names_files_of_its_folder_only(tmp_path, line, safe):
    """pg_restore opens the name each blobs.toc line gives, relative to the folder, `..` allowed (review 12)."""
    assert _ingest.blob_line_safe(line) is safe
    folder = tmp_path / "dir"
    folder.mkdir()
    (folder / "toc.dat").write_bytes(b"PGDMP")
    (folder / "blobs.toc").write_bytes(b"1 blob_1.dat\n" + line)
    assert _ingest.unsafe_entries(str(folder)) == ([] if safe else ["blobs.toc"])
    # Checked as it streams, in blocks of any size, the last line without its newline too.
    data = b"1 blob_1.dat\n" + line.rstrip(b"\n")
    for block in (1, 3, 1 << 16):
        checked = _ingest.CheckedLines(io.BytesIO(data), len(data), _ingest.blob_line_safe, ValueError("refused"))
        if safe:
            assert b"".join(iter(lambda: checked.read(block), b"")) == data
        else:
            with pytest.raises(ValueError):
                while checked.read(block):
                    pass


SCHEMA_ON = (b"\\restrict AbC123\n"
             b"CREATE TABLE public.t (\n    id integer\n);\n"
             b"ALTER TABLE ONLY public.t ALTER COLUMN id SET (pg_attver=26490888);\n"
             b"ALTER TABLE ONLY public.y ALTER COLUMN a SET (pg_attver=22191240, n_distinct=5);\n"
             b"ALTER FOREIGN TABLE public.f ALTER COLUMN a SET (n_distinct=2, pg_attver=7);\n"
             b"\\unrestrict AbC123\n")


def test_schema_text_leaves_out_only_what_the_server_or_pg_dump_draws():
    """Two servers' dumps of the same schema: the \\restrict key and Debian's pg_attver column option (one number
    per server) differ; every other option stays, and a line that was only pg_attver goes."""
    other = (SCHEMA_ON.replace(b"AbC123", b"ZzZ999").replace(b"26490888", b"1").replace(b"22191240", b"2")
             .replace(b"=7", b"=8"))
    assert _ingest.schema_text(SCHEMA_ON) == _ingest.schema_text(other)
    assert _ingest.schema_text(SCHEMA_ON).split(b"\n") == [
        b"CREATE TABLE public.t (", b"    id integer", b");",
        b"ALTER TABLE ONLY public.y ALTER COLUMN a SET (n_distinct=5);",
        b"ALTER FOREIGN TABLE public.f ALTER COLUMN a SET (n_distinct=2);", b""]


@pytest.mark.parametrize("old, new", [
    (b"n_distinct=5", b"n_distinct=6"),  # another real option
    (b"pg_attver=26490888", b"pg_attver=26490888x"),  # not a number the server draws
    (b"pg_attver=26490888", b"pg_attver=1 "),
    (b"SET (pg_attver=26490888)", b"SET STATISTICS 100"),
    (b"CREATE TABLE public.t", b"CREATE TABLE public.u"),
    (b"ALTER TABLE ONLY public.t", b"ALTER TABLE ONLY public.t ALTER COLUMN x SET (n_distinct=1); SELECT 1; --")])
def test_schema_text_keeps_every_other_difference(old, new):
    assert SCHEMA_ON.count(old) == 1
    assert _ingest.schema_text(SCHEMA_ON.replace(old, new)) != _ingest.schema_text(SCHEMA_ON)


@pytest.mark.parametrize("hidden", [
    # Review 17: a function's body line shaped like pg_dump's column options line hid a swapped body.
    b"ALTER TABLE public.orders ALTER COLUMN id SET (n_distinct=1); END IF; DELETE FROM public.orders; "
    b"RETURN p * 100; -- ALTER COLUMN id SET (pg_attver=1);",
    b"ALTER TABLE ONLY public.t ALTER COLUMN id SET (pg_attver=1);",
    b"\\restrict AbC123"])
def test_schema_text_leaves_nothing_out_of_a_body_or_a_literal(hidden):
    """Only lines pg_dump wrote at the top level are read for what it draws: the same line inside a dollar-quoted
    body or a literal is the database's text and counts."""
    def dump(body):
        return (b"CREATE FUNCTION public.discount(p numeric) RETURNS numeric\n    LANGUAGE plpgsql\n    AS $f$\nBEGIN\n"
                + body + b"\nEND\n$f$;\nCOMMENT ON TABLE public.t IS 'x\n" + body + b"\n';\n")
    assert _ingest.schema_text(dump(hidden)) == dump(hidden)
    assert _ingest.schema_text(dump(hidden)) != _ingest.schema_text(dump(hidden.replace(b"1", b"2")))


def test_schema_text_of_a_text_that_does_not_lex_is_the_text():
    assert _ingest.schema_text(b"\\restrict A\nCREATE TABLE 'open\n") == b"\\restrict A\nCREATE TABLE 'open\n"


def _header(vmin, server, dumped_by, int_size=4):
    def num(value):
        return bytes([1 if value < 0 else 0]) + abs(value).to_bytes(int_size, "little")

    def string(value):
        raw = value.encode()
        return num(len(raw)) + raw
    head = b"PGDMP" + bytes([1, vmin, 0, int_size, 8, 1])
    head += bytes([1]) if vmin >= 15 else num(-1)
    head += b"".join(num(v) for v in (0, 30, 12, 7, 11, 126, 0)) + string("shop")
    return head + string(server) + string(dumped_by) + b"\x00" * 40


@pytest.mark.parametrize("vmin", [14, 15])
def test_an_archives_header_gives_the_versions_it_was_written_by(tmp_path, vmin):
    path = tmp_path / "a.dump"
    path.write_bytes(_header(vmin, "10.23", "15.18 (Debian 15.18-0+deb12u1)"))
    assert _ingest.archive_versions(str(path)) == ("10.23", "15.18 (Debian 15.18-0+deb12u1)")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "toc.dat").write_bytes(_header(vmin, "12.22", "12.22"))
    assert _ingest.archive_versions(str(tmp_path / "d")) == ("12.22", "12.22")
    # Not an archive, cut short, or a string longer than a version: no versions, never an exception.
    for bad in (b"SELECT 1;\n", _header(vmin, "10.23", "15.18")[:40], _header(vmin, "1" * 300, "15")):
        path.write_bytes(bad)
        assert _ingest.archive_versions(str(path)) is None
    assert _ingest.tool_major_num("9.6.24") == 90600 and _ingest.tool_major_num("x") is None
