# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a database holds, table by table, read with psql inside a container.

PRIVATE: internal to ssot.governance; its API may change at any time. Stdlib only (it
runs where the Docker CLI is, through the engine adapter).

Shared by the snapshot restore test and the ingest verification: per database and table
the row count and, when asked, a content checksum, then a comparison that names every
table that differs. The queries are valid from PostgreSQL 9.4 on.
"""

from __future__ import annotations

import threading

from ansible_collections.ssot.governance.plugins.module_utils import _text
from ansible_collections.ssot.governance.plugins.module_utils._engine import psql_argv
from ansible_collections.ssot.governance.plugins.module_utils._text import Coded


class PgDataError(Coded):
    """A query failed; the message says where and why."""


DATABASES_SQL = "SELECT datname FROM pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1"
_TABLES = ("FROM information_schema.tables WHERE table_type = 'BASE TABLE' "
           "AND table_schema NOT IN ('pg_catalog', 'information_schema')")
ROWCOUNT_SQL = (
    "SELECT table_schema || '.' || table_name, (xpath('/row/c/text()', query_to_xml(format("
    "'SELECT count(*) AS c FROM %I.%I', table_schema, table_name), false, true, '')))[1]::text "
    + _TABLES + " ORDER BY 1")
# Checksum of a table's content, computed by the server in one sequential read with constant
# memory and order-independent (a restore or a copy may store rows in another order):
#   per column, the server's own hash function for the column's (base) type - hashint8, hashtext,
#   timestamp_hash, hash_numeric, ... - and hashtext of the text form for any other type; NULL is a
#   value no hash gives (2^32);
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
    "ELSE 'hashtext(ssot_row.%I::text)' END")
_ROW_VALUE = (
    "(SELECT coalesce(string_agg(format('(coalesce(%s::bigint, 4294967296) << %s)', format(" + _COLUMN_HASH
    + ", attname), (n * 11) % 32), ' # ' ORDER BY n), '0') FROM (SELECT a.attname, row_number() OVER "
    "(ORDER BY a.attnum) AS n, CASE WHEN ty.typtype = 'd' THEN ty.typbasetype ELSE a.atttypid END AS bt "
    "FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid WHERE a.attrelid = "
    "format('%I.%I', table_schema, table_name)::regclass AND a.attnum > 0 AND NOT a.attisdropped) AS cols)")
CHECKSUM_SQL = (
    "SELECT table_schema || '.' || table_name, (xpath('/row/c/text()', x))[1]::text, "
    "(xpath('/row/s/text()', x))[1]::text FROM (SELECT table_schema, table_name, query_to_xml(format("
    "'SELECT count(*) AS c, coalesce(sum((hashint8(v)::bigint << 28) # (hashint8(v # 6148914691236517205)::bigint "
    "& 268435455)), 0) AS s FROM (SELECT %s AS v FROM %I.%I AS ssot_row) AS q', " + _ROW_VALUE
    + ", table_schema, table_name), false, true, '') AS x " + _TABLES + ") AS q ORDER BY 1")


def psql(engine, container, sql, db="postgres", user="postgres"):
    """Rows (lists of text) of ``sql`` run by psql inside ``container`` (socket, no password)."""
    rc, out, err = engine.exec(container, psql_argv(user, db, "-AtX", "-F", "\t", "-c", sql))
    if rc != 0:
        lines = err.strip().splitlines()
        errors = [line for line in lines if line.startswith(("ERROR", "FATAL", "psql:"))] or lines[-3:]
        raise PgDataError("pgdata.psql_failed", container=container, database=db, error=" / ".join(errors)[:500])
    return [line.split("\t") for line in out.splitlines() if line]


def table_stats(engine, container, user="postgres", checksums=False, databases=None):
    """{database: {schema.table: {"rows": n[, "checksum": s]}}} of every database that accepts connections."""
    out = {}
    for (db,) in psql(engine, container, DATABASES_SQL, user=user):
        if databases is not None and db not in databases:
            continue
        if checksums:
            rows = psql(engine, container, CHECKSUM_SQL, db=db, user=user)
            out[db] = dict((name, {"rows": int(count), "checksum": total}) for name, count, total in rows)
        else:
            rows = psql(engine, container, ROWCOUNT_SQL, db=db, user=user)
            out[db] = dict((name, {"rows": int(count)}) for name, count in rows)
    return out


def table_stats_both(engine, first, second, user="postgres", checksums=False, databases=None):
    """table_stats of two containers at the same time (each server does its own reading): (first, second)."""
    out, errors = [None, None], []

    def one(i, container):
        try:
            out[i] = table_stats(engine, container, user, checksums, databases)
        except PgDataError as exc:
            errors.append(exc)
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
    if mismatch["table"] is None:
        return _text.message(lang, "pgdata.db_missing", database=mismatch["database"])
    a, b = mismatch["source"], mismatch.get(other_label)
    if a is not None and b is not None and a == b:
        return _text.message(lang, "pgdata.checksum_differs", database=mismatch["database"], table=mismatch["table"],
                             rows=a)
    missing = _text.message(lang, "pgdata.missing")
    return _text.message(lang, "pgdata.rows_differ", database=mismatch["database"], table=mismatch["table"],
                         source=missing if a is None else a, label=_text.message(lang, "pgdata.label." + other_label),
                         other=missing if b is None else b)


def compared(checksums, lang=_text.DEFAULT_LANGUAGE):
    """What a comparison read: rows, or rows and content."""
    return _text.message(lang, "compared.rows_content" if checksums else "compared.rows")
