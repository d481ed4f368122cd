# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""PostgreSQL read-only sessions, SSOT expectations and psql-like evidence.

PRIVATE: internal to ssot.governance; its API may change at any time.
Stdlib + psycopg2 only (it runs on the target). psycopg2 speaks to servers
from 9.x on, which is why it was chosen over psycopg 3.
"""

from __future__ import annotations

import re

from ansible_collections.ssot.governance.plugins.module_utils import _versions
from ansible_collections.ssot.governance.plugins.module_utils._text import DEFAULT_LANGUAGE, Coded, message, rendered

try:
    import psycopg2
    HAS_PSYCOPG2 = True
    PSYCOPG2_IMPORT_ERROR = None
    PG_ERRORS = (psycopg2.Error,)
except ImportError as exc:  # pragma: no cover - depends on the target
    HAS_PSYCOPG2 = False
    PSYCOPG2_IMPORT_ERROR = exc
    PG_ERRORS = ()

MATCH = "match"
DEVIATION = "deviation"
ERROR = "error"

# Setting names are identifiers (custom ones may have one dot): SHOW cannot
# take a bind parameter, so anything else is refused rather than quoted.
SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$")

OPERATORS = ("equals", "in", "regex", "not_empty", "contains", "version_range")


class CheckError(Coded):
    pass


def connection_argument_spec():
    """Connection options of every module that connects; documented by the
    ssot.governance.connection doc fragment (a unit test keeps the two equal)."""
    return dict(
        login_host=dict(type="str", default="127.0.0.1"),
        login_port=dict(type="int", default=5432),
        login_user=dict(type="str", default="postgres"),
        login_password=dict(type="str", no_log=True),
        login_db=dict(type="str", default="postgres"),
        connect_timeout=dict(type="int", default=10),
    )


def major_from_version_num(num):
    """server_version_num -> major as PostgreSQL names it ('9.4', '10', '15')."""
    num = int(num)
    if num >= 100000:
        return str(num // 10000)
    return "%d.%d" % (num // 10000, (num // 100) % 100)


def normalize(value):
    """Settings come back as text; YAML gives bools and numbers. Compare as PostgreSQL prints."""
    if isinstance(value, bool):
        return "on" if value else "off"
    if value is None:
        return ""
    return str(value)


def parse_expectation(expected):
    """Scalar -> equals; a one-key mapping -> that operator. Returns (operator, value)."""
    if isinstance(expected, dict):
        if len(expected) != 1 or next(iter(expected)) not in OPERATORS:
            raise CheckError("check.error.expectation", value=repr(expected), operators=", ".join(OPERATORS))
        op, value = next(iter(expected.items()))
        return op, value
    return "equals", expected


def compare(expected, actual, lang=DEFAULT_LANGUAGE):
    """Return (status, description of the expectation in ``lang``)."""
    op, value = parse_expectation(expected)
    actual = normalize(actual)
    if op == "equals":
        return (MATCH if actual == normalize(value) else DEVIATION), normalize(value)
    if op == "in":
        options = [normalize(v) for v in (value if isinstance(value, list) else [value])]
        return (MATCH if actual in options else DEVIATION), message(lang, "check.expected.in",
                                                                    values=", ".join(options))
    if op == "regex":
        try:
            ok = re.search(str(value), actual) is not None
        except re.error as exc:
            raise CheckError("check.error.regex", value=repr(value), error=exc)
        return (MATCH if ok else DEVIATION), message(lang, "check.expected.regex", pattern=value)
    if op == "not_empty":
        return (MATCH if actual.strip() else DEVIATION), message(lang, "check.expected.not_empty")
    if op == "version_range":
        try:
            ok = _versions.satisfies(actual, value)
        except _versions.VersionError as exc:
            raise CheckError("check.error.version_range", value=repr(value), error=exc)
        return (MATCH if ok else DEVIATION), message(lang, "check.expected.version", range=value)
    # contains: a list setting such as shared_preload_libraries
    items = [i.strip() for i in actual.split(",") if i.strip()]
    wanted = [normalize(v) for v in (value if isinstance(value, list) else [value])]
    return (MATCH if all(w in items for w in wanted) else DEVIATION), message(lang, "check.expected.contains",
                                                                              values=", ".join(wanted))


def psql_block(sql, columns, rows):
    """Render a result the way psql's aligned format does, so operators recognise it."""
    cells = [[normalize(c) for c in row] for row in rows]
    widths = [max([len(col)] + [len(r[i]) for r in cells]) for i, col in enumerate(columns)]
    header = "|".join(" %s " % col.center(widths[i]) for i, col in enumerate(columns))
    rule = "+".join("-" * (w + 2) for w in widths)
    body = ["|".join(" %s " % r[i].ljust(widths[i]) for i in range(len(columns))) for r in cells]
    count = "(%d row%s)" % (len(rows), "" if len(rows) == 1 else "s")
    return "\n".join(["=> " + sql, header.rstrip(), rule] + [b.rstrip() for b in body] + [count, ""])


class ReadOnlySession(object):
    """One connection whose every transaction is read-only; records each query."""

    def __init__(self, host, port, user, password, dbname, connect_timeout=10, application_name="ssot.governance",
                 language="pt-BR"):
        if not HAS_PSYCOPG2:
            raise CheckError("check.error.psycopg2")
        self.language = language
        self.dsn_text = "host=%s port=%s user=%s dbname=%s" % (host, port, user, dbname)
        self.dbname = dbname
        try:
            self.conn = psycopg2.connect(
                host=host, port=port, user=user, password=password, dbname=dbname,
                connect_timeout=connect_timeout, application_name=application_name,
                options="-c default_transaction_read_only=on",
            )
        except psycopg2.Error as exc:
            raise CheckError("check.error.query", error=connect_error(str(exc), host, port, user, dbname,
                                                                      connect_timeout, password, language))
        self.conn.set_session(readonly=True, autocommit=True)
        self.queries = []
        self.transcript = []

    def query(self, sql):
        self.queries.append(sql)
        with self.conn.cursor() as cur:
            cur.execute(sql)
            columns = [d[0] for d in cur.description]
            rows = cur.fetchall()
        self.transcript.append(psql_block(sql, columns, rows))
        return columns, rows

    def close(self):
        self.conn.close()


def run_checks(session, expected_major, settings):
    """Run the SSOT expectations in ``session``. Returns the result dict pg_check reports (texts in the session's
    language)."""
    lang = session.language
    checks = []
    dummy, rows = session.query("SELECT version();")
    version_text = rows[0][0]
    dummy, rows = session.query("SHOW server_version_num;")
    rows_num = rows[0][0]
    major = major_from_version_num(rows_num)
    read_only = session.query("SHOW transaction_read_only;")[1][0][0]
    if expected_major is not None:
        check = {"id": "postgres.major", "description": message(lang, "check.description.version"),
                 "sql": "SHOW server_version_num;",
                 "expected": _versions.as_text(expected_major), "actual": major}
        try:
            check["status"] = compare({"version_range": expected_major}, major, lang)[0]
        except CheckError as exc:
            check.update(status=ERROR, message=rendered(exc, lang))
        checks.append(check)
    for name in sorted(settings or {}):
        check = {"id": "setting.%s" % name, "description": message(lang, "check.description.setting", name=name),
                 "sql": "SHOW %s;" % name}
        try:
            if not SETTING_NAME.match(name):
                raise CheckError("check.error.setting_name", name=repr(name))
            parse_expectation(settings[name])
            dummy, rows = session.query(check["sql"])
            status, wanted = compare(settings[name], rows[0][0], lang)
            check.update(expected=wanted, actual=normalize(rows[0][0]), status=status)
        except (CheckError,) + PG_ERRORS as exc:
            check.update(expected=normalize(settings[name]), actual=None, status=ERROR,
                         message=rendered(exc, lang).strip())
        checks.append(check)
    return {
        "server_version": version_text,
        "server_version_num": int(rows_num),
        "server_major": major,
        "read_only_session": read_only == "on",
        "checks": checks,
        "deviations": [c["id"] for c in checks if c["status"] != MATCH],
        "matched": sum(1 for c in checks if c["status"] == MATCH),
    }


def report_text(result, dsn_text):
    """The evidence log: psql transcript first, then one verdict line per check."""
    lines = ["-- ssot.governance pg_check (read-only session) on %s" % dsn_text, ""]
    lines.extend(result.get("transcript", []))
    lines.append("-- verdicts")
    for c in result["checks"]:
        lines.append("%-10s %-40s expected=%s actual=%s%s" % (
            c["status"].upper(), c["id"], c["expected"], c["actual"],
            " (%s)" % c["message"] if c.get("message") else ""))
    return "\n".join(lines) + "\n"


# libpq's own words (English whatever the locale) -> what the operator reads and does next.
_CONNECT_CAUSES = (
    ("refused", re.compile(r"Connection refused|could not connect to server: No such file", re.I)),
    ("auth", re.compile(r"password authentication failed|no pg_hba\.conf entry|no password supplied|"
                        r"authentication failed|role \S+ does not exist", re.I)),
    ("timeout", re.compile(r"timeout expired|timed out", re.I)),
    ("nodb", re.compile(r"database \S+ does not exist", re.I)),
    ("unknown_host", re.compile(r"could not translate host name|Name or service not known", re.I)),
)


def connect_error(detail, host, port, user, dbname, timeout, password=None, lang="pt-BR"):
    """Why a connection failed, in the operator's language, with what to do next; never the password."""
    from ansible_collections.ssot.governance.plugins.module_utils import _secrets
    text_value = _secrets.mask_dsn(detail.strip())
    if password and len(str(password)) >= 4:
        text_value = text_value.replace(str(password), _secrets.MASK)
    cause = next((name for name, pattern in _CONNECT_CAUSES if pattern.search(text_value)), "other")
    return message(lang, "pg.connect." + cause, host=host, port=port, user=user, database=dbname,
                   seconds=timeout, error=" ".join(text_value.split())[:300])
