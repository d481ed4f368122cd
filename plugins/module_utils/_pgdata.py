# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a database holds, table by table, read with psql inside a container.

PRIVATE: internal to ssot.governance; its API may change at any time. Stdlib only (it
runs where the Docker CLI is, through the engine adapter).

Shared by the snapshot restore test and the ingest verification: per database and table
the row count and, when asked, a content checksum, then a comparison that names every
table that differs. The queries are valid from PostgreSQL 9.4 on.

A server's databases may come from someone else (a legacy source): every query runs with
``search_path`` pinned to pg_catalog (no function, operator or cast of theirs is found by
name), reads names as JSON (a name may hold a tab or a newline), and a checksum calls only
built-in hash and output functions, never a cast (a cast from a type of theirs is their code).
Each table is read ``FROM ONLY`` itself: a child table (a foreign table of file_fdw running a
program, of postgres_fdw connecting elsewhere) is never scanned through its parent; every
base table is counted on its own. A server's answer that is not what the query returns (a
count that is not a number) is a PgDataError, never a traceback.
"""

from __future__ import annotations

import json
import re
import threading

from ansible_collections.ssot.governance.plugins.module_utils import _text
from ansible_collections.ssot.governance.plugins.module_utils._engine import psql_argv
from ansible_collections.ssot.governance.plugins.module_utils._text import Coded, shown


class PgDataError(Coded):
    """A query failed; the message says where and why."""


# Every query this module runs: functions, operators and casts found by name are the server's own (set for the
# session by libpq, so a statement that must run alone - CREATE DATABASE - stays one statement).
PINNED = {"PGOPTIONS": "-c search_path=pg_catalog,pg_temp"}
# A name that holds a character that is not printable (a control character, C1 controls, line and paragraph
# separators) is never passed to a tool nor written to evidence as it is.
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
DATABASES_SQL = ("SELECT coalesce(json_agg(datname ORDER BY datname), '[]') FROM pg_database "
                 "WHERE datallowconn AND NOT datistemplate")
# Templates too (a snapshot's restore test compares every database the dump holds: review 19 marked one a template
# and it was never compared).
DATABASES_ALL_SQL = "SELECT coalesce(json_agg(datname ORDER BY datname), '[]') FROM pg_database WHERE datallowconn"
_TABLES = ("FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
           "AND table_schema NOT IN ('pg_catalog', 'information_schema')")
ROWCOUNT_SQL = (
    "SELECT coalesce(json_agg(json_build_array(n, c) ORDER BY n), '[]') FROM ("
    "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name), (xpath('/row/c/text()', query_to_xml(format("
    "'SELECT count(*) AS c FROM ONLY %I.%I', table_schema, table_name), false, true, '')))[1]::text "
    + _TABLES + ") AS q (n, c)")
# Checksum of a table's content, computed by the server in one sequential read with constant
# memory and order-independent (a restore or a copy may store rows in another order):
#   per column, the server's own hash function for the column's (base) type - hashint8, hashtext,
#   timestamp_hash, hash_numeric, ... - and for any other type (a domain, an enum, a composite, an
#   array) hashtext of the value's text form as the type's output function writes it (record_out of
#   a one-column row: never a cast, which the database's owner may have defined); NULL is a value no
#   hash gives (2^32);
#   per row, those hashes shifted by the column's position and xor-ed, then mixed with hashint8
#   into 60 bits; per table, the numeric sum over the rows (never overflows).
# Hashing typed values instead of md5 of each row's text form avoids formatting every value as
# text: about 3.5 times less server time on rows of a bigint, a timestamptz and a text. The hash
# functions are those of each server's own hash indexes, stable within a major: checksums are
# compared only between servers of the same major. Equal values hash equal (numeric 1.0 and 1.00,
# float 0 and -0, timestamptz in any time zone).
_COLUMN_HASH = (
    "CASE bt WHEN 'int2'::regtype THEN 'hashint4(ssot_row.%I::int4)' WHEN 'int4'::regtype THEN "
    "'hashint4(ssot_row.%I::int4)' WHEN 'int8'::regtype THEN 'hashint8(ssot_row.%I::int8)' "
    "WHEN 'bool'::regtype THEN 'hashint4(ssot_row.%I::int4)' WHEN 'text'::regtype THEN "
    "'hashtext(ssot_row.%I::text)' WHEN 'varchar'::regtype THEN 'hashtext(ssot_row.%I::text)' "
    "WHEN 'bpchar'::regtype THEN 'hashbpchar(ssot_row.%I::bpchar)' WHEN 'timestamp'::regtype THEN "
    "'timestamp_hash(ssot_row.%I::timestamp)' WHEN 'timestamptz'::regtype THEN "
    "'timestamp_hash(ssot_row.%I::timestamptz AT TIME ZONE ''UTC'')' WHEN 'numeric'::regtype THEN "
    "'hash_numeric(ssot_row.%I::numeric)' WHEN 'float4'::regtype THEN 'hashfloat8(ssot_row.%I::float8)' "
    "WHEN 'float8'::regtype THEN 'hashfloat8(ssot_row.%I::float8)' WHEN 'uuid'::regtype THEN "
    "'uuid_hash(ssot_row.%I::uuid)' "
    "ELSE 'hashtext(textin(record_out(ROW(ssot_row.%I))))' END")
_ROW_VALUE = (
    "(SELECT coalesce(string_agg(format('(coalesce(%s::bigint, 4294967296) << %s)', format(" + _COLUMN_HASH
    + ", attname), (n * 11) % 32), ' # ' ORDER BY n), '0') FROM (SELECT a.attname, row_number() OVER "
    "(ORDER BY a.attnum) AS n, a.atttypid AS bt FROM pg_attribute a WHERE a.attrelid = "
    "format('%I.%I', table_schema, table_name)::regclass AND a.attnum > 0 AND NOT a.attisdropped) AS cols)")
CHECKSUM_SQL = (
    "SELECT coalesce(json_agg(json_build_array(n, c, s) ORDER BY n), '[]') FROM ("
    "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name), (xpath('/row/c/text()', x))[1]::text, "
    "(xpath('/row/s/text()', x))[1]::text FROM (SELECT table_schema, table_name, query_to_xml(format("
    "'SELECT count(*) AS c, coalesce(sum((hashint8(v)::bigint << 28) # (hashint8(v # 6148914691236517205)::bigint "
    "& 268435455)), 0) AS s FROM (SELECT %s AS v FROM ONLY %I.%I AS ssot_row) AS q', " + _ROW_VALUE
    + ", table_schema, table_name), false, true, '') AS x " + _TABLES + ") AS q) AS r (n, c, s)")


def _run(engine, container, sql, db, user, *flags):
    rc, out, err = engine.exec(container, psql_argv(user, db, "-qAtX", *(flags + ("-c", sql))), env=PINNED)
    if rc != 0:
        lines = err.strip().splitlines()
        errors = [line for line in lines if line.startswith(("ERROR", "FATAL", "psql:"))] or lines[-3:]
        raise PgDataError("pgdata.psql_failed", container=container, database=shown(db),
                          error=shown(" / ".join(errors), 500))
    return out


def psql(engine, container, sql, db="postgres", user="postgres"):
    """Rows (lists of text) of ``sql`` run by psql inside ``container`` (socket, no password, search_path pinned).
    For values this collection chose or the server's own; names a database's owner chose are read with psql_json."""
    # Lines end at a newline only (str.splitlines() also breaks at U+2028, U+0085 a name may hold).
    return [line.split("\t") for line in _run(engine, container, sql, db, user, "-F", "\t").split("\n") if line]


def psql_json(engine, container, sql, db="postgres", user="postgres"):
    """The one JSON document ``sql`` returns (names with tabs or newlines stay whole)."""
    out = _run(engine, container, sql, db, user)
    try:
        return json.loads(out)
    except ValueError:
        raise PgDataError("pgdata.psql_failed", container=container, database=shown(db), error=shown(out, 200))


def database_names(engine, container, user="postgres", wanted=None, templates=False):
    """The databases that accept connections, by name (the templates too with ``templates``). A name holding a control
    character is refused (PgDataError naming it escaped) when it is one of ``wanted`` (every one when None), else left
    out."""
    names = [n for n in psql_json(engine, container, DATABASES_ALL_SQL if templates else DATABASES_SQL, user=user)
             if isinstance(n, str)]
    return usable_names(names, container, wanted)


def usable_names(names, container, wanted=None):
    """``names`` without those holding a character CONTROL matches; PgDataError naming them (escaped) when one of
    them is ``wanted`` (every one when None)."""
    refused = [n for n in names if CONTROL.search(n) and (wanted is None or n in wanted)]
    if refused:
        raise PgDataError("pgdata.control_name", container=container,
                          names=", ".join(shown(n) for n in sorted(refused)))
    return [n for n in names if not CONTROL.search(n)]


def table_stats(engine, container, user="postgres", checksums=False, databases=None, templates=False):
    """{database: {schema.table: {"rows": n[, "checksum": s]}}} of every database that accepts connections (and the
    templates, with ``templates``)."""
    out = {}
    for db in database_names(engine, container, user, databases, templates):
        if databases is not None and db not in databases:
            continue
        rows = psql_json(engine, container, CHECKSUM_SQL if checksums else ROWCOUNT_SQL, db=db, user=user)
        try:
            out[db] = dict((row[0], dict({"rows": int(row[1])}, **({"checksum": str(int(row[2]))} if checksums else {})))
                           for row in rows)
            # Names are quoted identifiers (a."b.c" and "a.b".c are two tables): one key per table, or the answer is
            # not the query's.
            unique = len(out[db]) == len(rows) and all(isinstance(row[0], str) for row in rows)
        except (TypeError, ValueError, IndexError, KeyError):
            unique = False
        if not unique:
            raise PgDataError("pgdata.psql_failed", container=container, database=shown(db),
                              error=shown(json.dumps(rows)[:200]))
    return out


def table_stats_both(engine, first, second, user="postgres", checksums=False, databases=None, templates=False):
    """table_stats of two containers at the same time (each server does its own reading): (first, second)."""
    out, errors = [None, None], []

    def one(i, container):
        try:
            out[i] = table_stats(engine, container, user, checksums, databases, templates)
        except PgDataError as exc:
            errors.append(exc)
        except Exception as exc:  # pylint: disable=broad-except  # a server's answer never kills the run
            errors.append(PgDataError("pgdata.psql_failed", container=container, database="-",
                                      error=shown(repr(exc), 200)))
    threads = [threading.Thread(target=one, args=(i, c)) for i, c in enumerate((first, second))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return out[0], out[1]


def compare(source, other, other_label="restored"):
    """Per database and table: source and other rows (and checksums), status. Returns (comparisons, mismatches).

    A table is a mismatch when its row count or its checksum differs, or when it exists on one side only;
    a database of the source missing on the other side is one mismatch line with no table.
    """
    rows = []
    for db in sorted(set(source) | set(other)):
        mine, theirs = source.get(db, {}), other.get(db, {})
        for table in sorted(set(mine) | set(theirs)):
            a, b = mine.get(table) or {}, theirs.get(table) or {}
            row = {"database": db, "table": table, "source": a.get("rows"), other_label: b.get("rows")}
            same = a.get("rows") == b.get("rows") and table in mine and table in theirs
            if "checksum" in a or "checksum" in b:
                row["source_checksum"], row[other_label + "_checksum"] = a.get("checksum"), b.get("checksum")
                same = same and a.get("checksum") == b.get("checksum")
            row["status"] = "match" if same else "mismatch"
            rows.append(row)
        if db not in other:
            rows.append({"database": db, "table": None, "source": "present", other_label: None, "status": "mismatch"})
    return rows, [r for r in rows if r["status"] != "match"]


def describe(mismatch, other_label="restored", lang=_text.DEFAULT_LANGUAGE):
    """One line naming a mismatch and what differs, in the operator's language."""
    database, table = shown(mismatch["database"], 63), shown(mismatch["table"], 130)
    if mismatch["table"] is None:
        return _text.message(lang, "pgdata.db_missing", database=database)
    a, b = mismatch["source"], mismatch.get(other_label)
    if a is not None and b is not None and a == b:
        return _text.message(lang, "pgdata.checksum_differs", database=database, table=table, rows=a)
    missing = _text.message(lang, "pgdata.missing")
    return _text.message(lang, "pgdata.rows_differ", database=database, table=table,
                         source=missing if a is None else a, label=_text.message(lang, "pgdata.label." + other_label),
                         other=missing if b is None else b)


def compared(checksums, lang=_text.DEFAULT_LANGUAGE):
    """What a comparison read: rows, or rows and content."""
    return _text.message(lang, "compared.rows_content" if checksums else "compared.rows")
