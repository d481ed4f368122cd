"""Snapshot verification on files written here (the capture itself is integration-tested)."""

from __future__ import annotations

import json

import pytest

from ansible_collections.ssot.governance.plugins.module_utils import _snapshot
from ansible_collections.ssot.governance.plugins.module_utils._engine import Engine


def make(tmp_path):
    files = []
    for name, body in (("a.json", b'{"x": 1}\n'), ("dump.sql", b"SELECT 1;\n" * 1000)):
        (tmp_path / name).write_bytes(body)
        size, digest = _snapshot.sha256_file(str(tmp_path / name))
        files.append({"name": name, "size": size, "sha256": digest, "kind": "dump" if name.endswith("sql") else "x"})
    _snapshot.write_manifest(str(tmp_path), files, {"image": "i"}, {"compression": "none"})
    return _snapshot.sha256_file(str(tmp_path / "manifest.json"))[1]


def test_verify_names_missing_altered_and_extra_files_and_an_altered_manifest(tmp_path):
    sha = make(tmp_path)
    assert _snapshot.verify(str(tmp_path), sha)["ok"]
    (tmp_path / "dump.sql").write_bytes(b"SELECT 2;\n" * 1000)
    (tmp_path / "a.json").unlink()
    (tmp_path / "extra.txt").write_text("x")
    report = _snapshot.verify(str(tmp_path), sha)
    assert report["missing"] == ["a.json"] and [a["name"] for a in report["altered"]] == ["dump.sql"]
    assert report["extra"] == ["extra.txt"] and not report["ok"]


def test_an_altered_manifest_or_sums_file_is_named(tmp_path):
    sha = make(tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    manifest["compression"] = "gzip"
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    report = _snapshot.verify(str(tmp_path), sha)
    assert [a["name"] for a in report["altered"]] == ["manifest.json"]
    sha = make(tmp_path)
    (tmp_path / "SHA256SUMS").write_text("0" * 64 + "  a.json\n")
    assert [a["name"] for a in _snapshot.verify(str(tmp_path), sha)["altered"]] == ["SHA256SUMS"]


def test_capture_streams_and_hashes_what_reaches_the_disk(tmp_path):
    import gzip
    import hashlib
    size, digest = _snapshot.stream(Engine(binary="sh"), ["-c", "yes legacy | head -n 200000"],
                                    str(tmp_path / "out.gz"), True)
    data = (tmp_path / "out.gz").read_bytes()
    assert (size, digest) == (len(data), hashlib.sha256(data).hexdigest())
    assert gzip.decompress(data) == b"legacy\n" * 200000
    import pytest
    with pytest.raises(_snapshot.SnapshotError, match="terminou com 3: oops"):
        _snapshot.stream(Engine(binary="sh"), ["-c", "echo oops >&2; exit 3"], str(tmp_path / "bad"))
    assert not (tmp_path / "bad").exists() and not (tmp_path / "bad.part").exists()


@pytest.mark.parametrize("code, words", [(28, "Sem espaço"), (30, "somente leitura"), (13, "Sem permissão"),
                                         (5, "Erro ao gravar")])
def test_disk_errors_while_capturing_say_what_to_do(code, words):
    import os
    msg = _snapshot.disk_error(OSError(code, os.strerror(code)), "/w/snapshots/x", "pt-BR")
    assert words in msg and "/w/snapshots/x" in msg and "Errno" not in msg


def test_a_partial_folder_is_swept_and_only_a_partial_one(tmp_path):
    dest = tmp_path / "20261124T000000Z"
    left = tmp_path / "20261124T000000Z.partial"
    left.mkdir()
    (left / "pg_dumpall.sql").write_text("half")
    assert _snapshot.staging_folder(str(dest)) == str(left) and not left.exists()
    dest.mkdir()
    _snapshot.discard(str(dest))   # never a folder that is not a staging one
    assert dest.exists()


HOSTILE_DUMPALL = b"""--
-- Database "aaa_evil" dump
--
\\restrict AbC123
CREATE DATABASE aaa_evil WITH TEMPLATE = template0;
\\connect aaa_evil
COMMENT ON TABLE public.t IS 'harmless table
-- Database "legacy_shop" dump
CREATE ROLE pwn SUPERUSER LOGIN PASSWORD ''x'';
\\! export -p > /tmp/env.txt
\\connect legacy_shop
--';
CREATE FUNCTION public.f() RETURNS text LANGUAGE sql AS $_$SELECT '
-- Database "legacy_shop" dump
'$_$;
COPY public.t (v) FROM stdin;
-- Database "legacy_shop" dump
\\.
\\unrestrict AbC123
--
-- Database "legacy_shop" dump
--
\\restrict XyZ789
CREATE DATABASE legacy_shop WITH TEMPLATE = template0;
ALTER DATABASE legacy_shop OWNER TO shop_owner;
\\connect legacy_shop
CREATE TABLE public.customers (id integer);
ALTER TABLE public.customers OWNER TO shop_owner;
COMMENT ON TABLE public.customers IS 'it''s
ALTER TABLE public.x OWNER TO postgres;
done';
\\unrestrict XyZ789
--
-- PostgreSQL database cluster dump complete
--
"""


def test_a_section_starts_where_pg_dump_writes_never_inside_what_a_database_holds():
    """A table's comment, a function's body and COPY data of one database reading like the next one's section header
    (review 14: the rollback replayed the comment's text as the superuser): only the header pg_dump wrote counts."""
    import io
    section = list(_snapshot.database_section(io.BytesIO(HOSTILE_DUMPALL), "legacy_shop"))
    assert section[0] == b'-- Database "legacy_shop" dump\n' and b"CREATE ROLE pwn" not in b"".join(section)
    assert section[-1] == b"--\n" and b"public.customers (id integer)" in b"".join(section)
    from ansible_collections.ssot.governance.plugins.module_utils import _ingest
    parts = list(_ingest.section_parts(_snapshot.database_section(io.BytesIO(HOSTILE_DUMPALL), "legacy_shop",
                                                                  marked=True)))
    head = b"".join(line for kind, line in parts if kind == "head")
    assert head.endswith(b"\\connect legacy_shop\n") and b"OWNER TO shop_owner" in head
    assert [line for kind, line in parts if kind == "meta"] == [b"\\restrict XyZ789\n", b"\\unrestrict XyZ789\n"]
    # Only the statement pg_dump wrote is an owner's; a line inside a comment stays in the text it belongs to.
    assert [line for kind, line in parts if kind == "owner"] == [b"ALTER TABLE public.customers OWNER TO shop_owner;\n"]
    assert (("body", b"ALTER TABLE public.x OWNER TO postgres;\n")) in parts


@pytest.mark.parametrize("line, state, after", [
    (b"SELECT 'a''b' -- x '\n", None, None), (b"COMMENT ON T IS 'open\n", None, b"'"), (b"still'' open\n", b"'", b"'"),
    (b"closed';\n", b"'", None), (b"AS $_$SELECT 1\n", None, b"$_$"), (b"'$_$' $_$ x\n", b"$_$", b"'"),
    (b'CREATE TABLE "a\n', None, b'"'), (b"SELECT $1 + 2;\n", None, None), (b"$$ -- $$ 'x\n", None, b"'"),
    # A $ inside a name (legal unquoted) opens nothing: a table t$a$ must not hide what follows, nor a $a$ later in a
    # literal close a quote that was never open.
    (b"CREATE TABLE public.t$a$ (id int);\n", None, None), (b"COMMENT ON TABLE x IS 'a $a$\n", None, b"'"),
    (b"SELECT caf\xc3\xa9$x$ FROM t;\n", None, None), (b"AS $\xc3\xa9$ body\n", None, b"$\xc3\xa9$"),
    # After a number a dollar quote does open (as psql and the server read it); after a name holding digits, not.
    (b"SELECT 1$a$ x\n", None, b"$a$"), (b"SELECT t1$a$ FROM x;\n", None, None),
    # Review 19: an escape literal as psql reads it - a backslash escapes the next character, a quote too - only where
    # E starts a token (namE'x' and 1E'x' are a name or a number, then a plain literal).
    (b"SELECT E'\\'';\n", None, None), (b"SELECT e'a\\\\' || 'b';\n", None, None), (b"SELECT E'it''s\\'\n", None, b"E'"),
    (b"x\\' y'\n", b"E'", None), (b"SELECT namE'x\\' || 'y';\n", None, None), (b"SELECT 1E'\\' || ';\n", None, b"'"),
    # Block comments hide quotes and nest; -- inside one ends nothing.
    (b"SELECT /* it's */ 1;\n", None, None), (b"/* a /* b */ ' -- */ 'x\n", None, b"'"), (b"/* /* x */\n", None, b"/*"), (b"/* /* x\n", None, b"/*/*"),
    (b"*/ */ SELECT '\n", b"/*/*", b"'"), (b"-- /* x\n", None, None),
])
def test_what_is_open_at_the_end_of_a_line_of_sql(line, state, after):
    assert _snapshot._open_after(line, state) == after


def test_a_copy_statement_is_followed_to_its_end_and_a_text_that_ends_open_is_refused():
    """A table whose name holds a newline: its COPY statement spans two lines, and its data rows - a section's header,
    a superuser's statement, a lone quote - were read as SQL (review 15)."""
    import io
    dump = (b'-- Database "aaa" dump\nCOPY public."a\nb" (x) FROM stdin;\n-- Database "bbb" dump\n'
            b"CREATE ROLE pwn SUPERUSER LOGIN PASSWORD 'pw';\nit's\n\\.\n-- Database \"bbb\" dump\n"
            b"CREATE DATABASE bbb WITH TEMPLATE = template0;\n\\connect bbb\n"
            b"-- PostgreSQL database cluster dump complete\n")
    section = b"".join(_snapshot.database_section(io.BytesIO(dump), "bbb"))
    assert b"pwn" not in section and section.startswith(b'-- Database "bbb" dump\nCREATE DATABASE bbb')
    marked = list(_snapshot.top_level(io.BytesIO(dump)))
    assert [top for line, top in marked[:6]] == [True, True, False, False, False, False]
    with pytest.raises(_snapshot.SnapshotError):
        list(_snapshot.top_level(io.BytesIO(b"COMMENT ON TABLE t IS 'never closed\n")))


def test_a_rollback_replays_only_a_section_pg_dump_wrote(tmp_path):
    """Before anything is dropped: the section is there once, the text balanced, and before its \\connect only what
    pg_dump writes there for that database (a superuser's psql reads it)."""
    from ansible_collections.ssot.governance.plugins.module_utils import _ingest
    good = HOSTILE_DUMPALL
    path = tmp_path / "pg_dumpall.sql"
    path.write_bytes(good)
    _ingest.check_section(str(path), "legacy_shop")
    # A database whose name needs quoting: pg_dump writes \\encoding before its \\connect (left out of the replay).
    quoted = b"\\encoding SQL_ASCII\n\\connect legacy_shop\nCREATE TABLE"
    path.write_bytes(good.replace(b"\\connect legacy_shop\nCREATE TABLE", quoted))
    _ingest.check_section(str(path), "legacy_shop")
    bad = {
        "statement in the head": good.replace(b"ALTER DATABASE legacy_shop OWNER TO shop_owner;\n",
                                              b"ALTER DATABASE legacy_shop OWNER TO shop_owner;\nCREATE ROLE x;\n"),
        "another database's CREATE": good.replace(b"CREATE DATABASE legacy_shop WITH", b"CREATE DATABASE postgres WITH"),
        "twice": good.replace(b"-- PostgreSQL database cluster dump complete",
                              b'-- Database "legacy_shop" dump\n-- PostgreSQL database cluster dump complete'),
        "missing": good.replace(b'-- Database "legacy_shop" dump\n--\n\\restrict', b"--\n--\n\\restrict"),
        "open at the end": good + b"COMMENT ON TABLE t IS 'x\n",
        # What psql reads past the lexer (review 16): a comment opened in a value, a dollar quote, a CR.
        "comment in a value": good.replace(b"CREATE DATABASE legacy_shop WITH TEMPLATE = template0;",
                                           b"SET statement_timeout = 0 /*;\nCREATE DATABASE legacy_shop WITH "
                                           b"TEMPLATE = template0;"),
        "dollar in the WITH": good.replace(b"TEMPLATE = template0;", b"TEMPLATE = $x$template0$x$;"),
        "CR in a comment": good.replace(b"-- Database \"legacy_shop\" dump\n--\n\\restrict XyZ789",
                                        b"-- Database \"legacy_shop\" dump\n-- x\rCREATE ROLE y;\n\\restrict XyZ789"),
    }
    for why, text in bad.items():
        path.write_bytes(text)
        with pytest.raises(_ingest.IngestError) as refused:
            _ingest.check_section(str(path), "legacy_shop")
        assert refused.value.code == "ingest.rollback.copy_unexpected", why


def test_a_copys_statements_on_the_database_itself_are_accepted_whole_or_the_rollback_refuses(tmp_path):
    """The statements about the database after its \\connect (comment, settings, privileges) run as the superuser
    (the loader may not: review 17): each must be one statement, of pg_dump's shape, about that database."""
    from ansible_collections.ssot.governance.plugins.module_utils import _ingest
    path = tmp_path / "pg_dumpall.sql"
    good = (b"COMMENT ON DATABASE legacy_shop IS 'a ''note''\n-- Database \"x\" dump\n';\n"
            b"ALTER DATABASE legacy_shop SET statement_timeout TO '5s';\n"
            b"ALTER DATABASE legacy_shop SET search_path TO '$user', 'public';\n"
            b"ALTER ROLE \"Shop Reader\" IN DATABASE legacy_shop SET work_mem TO '8MB';\n"
            b"REVOKE CONNECT,TEMPORARY ON DATABASE legacy_shop FROM PUBLIC;\n"
            b"GRANT ALL ON DATABASE legacy_shop TO shop_reader WITH GRANT OPTION;\n"
            b"ALTER DATABASE legacy_shop CONNECTION LIMIT = 20;\nALTER DATABASE legacy_shop IS_TEMPLATE = true;\n")

    def with_statements(text):
        anchor = b"\\connect legacy_shop\nCREATE TABLE public.customers"
        return HOSTILE_DUMPALL.replace(anchor, anchor.replace(b"CREATE", text + b"CREATE"))
    path.write_bytes(with_statements(good))
    _ingest.check_section(str(path), "legacy_shop")
    with _snapshot.open_dump(str(path)) as fh:
        parts = [t for k, t in _ingest.section_parts(_snapshot.database_section(fh, "legacy_shop", marked=True))
                 if k == "database"]
    assert b"".join(parts) == good and len(parts) == 8
    # A grant made by another role: with the SET / RESET SESSION AUTHORIZATION around it (it runs as that role);
    # around another object's grant, they stay the loader's (review 18).
    grantor = (b"SET SESSION AUTHORIZATION shop_reader;\nGRANT CREATE ON DATABASE legacy_shop TO PUBLIC;\n"
               b"RESET SESSION AUTHORIZATION;\n")
    table = b"SET SESSION AUTHORIZATION shop_reader;\nGRANT SELECT ON TABLE public.t TO x;\nRESET SESSION AUTHORIZATION;\n"
    path.write_bytes(with_statements(grantor + table))
    _ingest.check_section(str(path), "legacy_shop")
    with _snapshot.open_dump(str(path)) as fh:
        parts = list(_ingest.section_parts(_snapshot.database_section(fh, "legacy_shop", marked=True)))
    assert b"".join(t for k, t in parts if k == "database") == grantor
    assert b"".join(t for k, t in parts if k == "body").startswith(table)
    # Inside a literal, such a line is the database's text.
    path.write_bytes(with_statements(b"COMMENT ON TABLE public.t IS '\nSET client_encoding = ''SJIS'';\n';\n"))
    _ingest.check_section(str(path), "legacy_shop")
    for bad in (b"ALTER DATABASE legacy_shop SET statement_timeout TO '5s'; CREATE ROLE x SUPERUSER;\n",
                b"COMMENT ON DATABASE postgres IS 'x';\n",
                b"ALTER DATABASE legacy_shop OWNER TO postgres;\n",
                b"ALTER DATABASE legacy_shop RENAME TO x;\n",
                b"ALTER DATABASE legacy_shop CONNECTION LIMIT = 20 ;\n",
                b"ALTER DATABASE legacy_shop IS_TEMPLATE = yes; SELECT 1;\n",
                b"GRANT CONNECT ON DATABASE legacy_shop TO x CASCADE;\n",
                b"GRANT ALL ON DATABASE legacy_shop TO x, postgres;\n",
                b"ALTER ROLE x IN DATABASE legacy_shop SET work_mem TO $$8MB$$;\n",
                b"COMMENT ON DATABASE legacy_shop IS E'x';\n",
                # Written in another encoding or with backslash escapes: its literals read otherwise (review 18).
                b"SET standard_conforming_strings = off;\n",
                b"SET client_encoding = 'SJIS';\n"):
        path.write_bytes(with_statements(bad))
        with pytest.raises(_ingest.IngestError) as refused:
            _ingest.check_section(str(path), "legacy_shop")
        assert refused.value.code == "ingest.rollback.copy_unexpected", bad


READ_DUMP = b"""\\restrict abc
CREATE ROLE postgres;
ALTER ROLE postgres WITH SUPERUSER;
CREATE ROLE shop;
--
-- Database "shop" dump
--
CREATE DATABASE shop WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE_PROVIDER = libc LOCALE = 'C';
\\connect shop
COMMENT ON TABLE public.t IS '
CREATE ROLE postgres;
-- Database "ghost" dump
CREATE DATABASE ghost WITH LOCALE_PROVIDER = libc;
COPY public.ghost (a) FROM stdin;
';
COPY public.t (id, note) FROM stdin;
1\tCREATE ROLE postgres;
2\t-- Database "x" dump
\\.
COPY "Sales O'Brien"."Orders
2026" (id) FROM stdin;
7
\\.
COPY public.empty (id) FROM stdin;
\\.
--
-- Database "postgres" dump
--
\\connect postgres
"""


@pytest.mark.parametrize("block", [1, 7, 64, 1 << 20])
def test_a_dump_read_on_its_way_to_disk_counts_every_copy_and_adapts_only_pg_dumps_own_lines(block):
    out = []
    reader = _snapshot.DumpReader(out.append, 100023, "postgres")
    for i in range(0, len(READ_DUMP), block):
        reader.write(READ_DUMP[i:i + block])
    reader.close()
    written = b"".join(out)
    assert reader.databases == ["shop", "postgres"]
    assert reader.tables() == [{"database": "shop", "schema": "Sales O'Brien", "table": "Orders\n2026", "rows": 1},
                               {"database": "shop", "schema": "public", "table": "empty", "rows": 0},
                               {"database": "shop", "schema": "public", "table": "t", "rows": 2}]
    # Only the superuser's CREATE ROLE of the globals and the section's CREATE DATABASE: the same text inside a
    # comment or in data rows is left as it is, and counts nothing.
    assert [(a["line"], a["why"]) for a in reader.adapted] == [(2, "superuser"), (8, "create_database")]
    assert written.count(b"CREATE ROLE postgres;") == 3 and written.count(b"LOCALE_PROVIDER") == 1
    assert b"DO $ssot$BEGIN CREATE ROLE postgres; EXCEPTION WHEN duplicate_object" in written
    assert b"LC_COLLATE = 'C' LC_CTYPE = 'C';\n" in written
    assert written.count(b"\n") == READ_DUMP.count(b"\n")


def test_a_dump_of_the_servers_own_major_keeps_its_create_database_and_an_open_copy_is_refused():
    out = []
    reader = _snapshot.DumpReader(out.append, 150004, "admin")
    reader.write(READ_DUMP)
    reader.close()
    assert reader.adapted == [] and b"".join(out) == READ_DUMP   # no role admin; 15 knows LOCALE_PROVIDER
    reader = _snapshot.DumpReader([].append, 150004)
    reader.write(b'-- Database "shop" dump\nCOPY public.t (id) FROM stdin;\n1\n')
    with pytest.raises(_snapshot.SnapshotError):
        reader.close()
    reader = _snapshot.DumpReader([].append, 150004)
    with pytest.raises(_snapshot.SnapshotError):     # COPY data before any database's section is not pg_dumpall's
        reader.write(b"COPY public.t (id) FROM stdin;\n1\n\\.\n")


def test_row_counts_text_is_what_the_check_prints():
    tables = [{"database": "shop", "schema": "public", "table": "t", "rows": 2}]
    assert _snapshot.row_counts_text(["template1", "shop", "postgres"], tables) == (
        "template1\nshop\nshop\tpublic\tt\t2\npostgres\n")


def test_review_19s_escape_literal_leaves_pg_dumps_lines_after_it_at_the_top_level():
    """A text search dictionary's options are written by pg_dump as stored (raw): an E'\\'' there closed for psql but not
    for the reader, and pg_dump's own lines after it were read as text - a COPY not counted, a comment's line
    'adapted'."""
    dump = (b'-- Database "atk" dump\nCREATE TEXT SEARCH DICTIONARY public.d (TEMPLATE = pg_catalog.simple, accept = '
            b"'true' );\nSELECT E'\\'';\nCREATE TEXT SEARCH DICTIONARY public.d2 (accept = 'true');\n"
            b"COMMENT ON TABLE public.victim IS 'a\nCREATE DATABASE foo LOCALE_PROVIDER = libc;\n';\n"
            b"COPY public.victim (id) FROM stdin;\n1\n2\n\\.\n-- Name: i'x; Type: INDEX\n")
    reader = _snapshot.DumpReader([].append, 100023)
    reader.write(dump)
    reader.close()
    assert reader.tables() == [{"database": "atk", "schema": "public", "table": "victim", "rows": 2}]
    assert reader.adapted == []


def test_only_a_sections_head_has_its_create_database_adapted():
    """pg_dump writes CREATE DATABASE before a section's \\connect; one after it (text a database's catalog put at the
    top level) is never pg_dump's own and is left as written."""
    dump = (b'-- Database "shop" dump\nCREATE DATABASE shop WITH TEMPLATE = template0 LOCALE_PROVIDER = libc;\n'
            b"\\connect shop\nCREATE DATABASE foo WITH LOCALE_PROVIDER = libc;\n")
    out = []
    reader = _snapshot.DumpReader(out.append, 100023)
    reader.write(dump)
    reader.close()
    assert [a["line"] for a in reader.adapted] == [2]
    assert b"".join(out).endswith(b"CREATE DATABASE foo WITH LOCALE_PROVIDER = libc;\n")


def test_a_link_where_a_snapshots_file_was_is_altered_even_to_the_same_bytes(tmp_path):
    """A link is read where it points (a host file fed to the restore's psql, review 19): never a snapshot's file."""
    sha = make(tmp_path)
    elsewhere = tmp_path.parent / (tmp_path.name + "-elsewhere.sql")
    (tmp_path / "dump.sql").rename(elsewhere)
    (tmp_path / "dump.sql").symlink_to(elsewhere)
    report = _snapshot.verify(str(tmp_path), sha)
    assert not report["ok"] and [a["name"] for a in report["altered"]] == ["dump.sql"]
    assert report["altered"][0]["found"] == "link"


def test_a_create_database_is_adapted_by_its_tokens_never_inside_its_name_or_a_literal():
    """Review 20: a database named "x LOCALE_PROVIDER = y" had its name rewritten (a search over the whole line); a
    LOCALE literal holding the words, or doubled quotes, is a value."""
    line = (b'CREATE DATABASE "atk LOCALE_PROVIDER = x" WITH TEMPLATE = template0 ENCODING = \'UTF8\' '
            b"LOCALE_PROVIDER = libc LOCALE = 'a'' LOCALE_PROVIDER = libc' TABLESPACE = \"My Space\";\n")
    assert _snapshot.compat_rewrite(line, 100023) == (
        b'CREATE DATABASE "atk LOCALE_PROVIDER = x" WITH TEMPLATE = template0 ENCODING = \'UTF8\' '
        b"LC_COLLATE = 'a'' LOCALE_PROVIDER = libc' LC_CTYPE = 'a'' LOCALE_PROVIDER = libc' "
        b'TABLESPACE = "My Space";\n')
    assert _snapshot.compat_rewrite(line, 150004) == line
    odd = b"CREATE DATABASE x WITH LOCALE_PROVIDER = libc; SELECT 1;\n"     # not pg_dump's shape: as it is
    assert _snapshot.compat_rewrite(odd, 100023) == odd
