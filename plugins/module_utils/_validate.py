# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Phase 3 in one read-only session: SSOT expectations, named checks, findings, decisions.

PRIVATE: internal to ssot.governance; its API may change at any time. Stdlib + psycopg2
(it runs on the target).
"""

from __future__ import annotations

from ansible_collections.ssot.governance.plugins.module_utils import _decisions, _findings, _model, _pg, _text
from ansible_collections.ssot.governance.plugins.module_utils._text import message as text, rendered


def run_named(session, checks, open_session):
    """The SSOT's named checks. A check on another database gets its own read-only session."""
    lang = session.language
    out = []
    others = {}
    try:
        for spec in checks or []:
            check = {"id": "check.%s" % spec["id"], "description": spec.get("description") or spec["id"],
                     "sql": spec["sql"], "severity": spec.get("severity", "medium")}
            expect = spec.get("expect")
            try:
                sql = spec["sql"].strip()
                if ";" in sql.rstrip(";"):
                    raise _pg.CheckError("check.error.one_statement")
                target = session
                if spec.get("database") and spec["database"] != session.dbname:
                    if spec["database"] not in others:
                        others[spec["database"]] = open_session(spec["database"])
                    target = others[spec["database"]]
                dummy, rows = target.query(sql)
                if isinstance(expect, dict) and set(expect) == {"rows"}:
                    actual = len(rows)
                    status = _pg.MATCH if actual == int(expect["rows"]) else _pg.DEVIATION
                    check.update(expected=text(lang, "check.expected.rows", count=int(expect["rows"])),
                                 actual=str(actual), status=status)
                else:
                    actual = rows[0][0] if rows and rows[0] else None
                    status, wanted = _pg.compare(expect, actual, lang)
                    check.update(expected=wanted, actual=_pg.normalize(actual), status=status)
            except _pg.CheckError as exc:
                check.update(expected=_pg.normalize(expect), actual=None, status=_pg.ERROR, message=rendered(exc, lang))
            except _pg.PG_ERRORS as exc:
                check.update(expected=_pg.normalize(expect), actual=None, status=_pg.ERROR,
                             message=str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)
            out.append(check)
    finally:
        for other in others.values():
            other.close()
    return out


def published_text(published):
    """Sorted bind:port list; the '::' twin Docker adds to a 0.0.0.0 publication is folded into it."""
    binds = set((p["bind"], int(p.get("port") or 0)) for p in published or [])
    folded = [(b, port) for b, port in binds if not (b == "::" and ("0.0.0.0", port) in binds)]
    return ", ".join("%s:%d" % bp for bp in sorted(folded))


def exposure_check(published, expected_ports, lang=_text.DEFAULT_LANGUAGE):
    """SSOT target.ports against what the container publishes: a deviation like any other."""
    expected = published_text([{"bind": e.rsplit(":", 1)[0], "port": e.rsplit(":", 1)[1]} for e in expected_ports])
    actual = published_text(published)
    return {"id": "exposure.published", "description": text(lang, "check.description.exposure"), "sql": None,
            "severity": "high", "expected": expected, "actual": actual,
            "status": _pg.MATCH if expected == actual else _pg.DEVIATION}


def findings(session, version_num, lang, client_versions, published, exposure, size_limit, artifact_sizes,
             listeners=None):
    col = _findings.Collector(session, lang)
    server = _findings.server_major_tuple(version_num)
    col.clients(server, client_versions)
    exposed = col.exposure(published, exposure.get("allowed_binds") or ["127.0.0.1"],
                           bool(exposure.get("ssl_required")))
    col.listeners(listeners)
    trust = col.hba(server, exposed, _pg.PG_ERRORS)
    col.superusers(trust, _pg.PG_ERRORS)
    col.sizes(size_limit, artifact_sizes)
    return col.findings


def decide(checks, found, ssot_digest, lang):
    """A pending decision for every deviation (or check error) and every high or critical finding; the controller
    settles them (plugin_utils/_observe.py)."""
    decisions = []
    for check in checks:
        if check["status"] == _pg.MATCH:
            continue
        facts = {"check": check["id"], "expected": check.get("expected"), "actual": check.get("actual"),
                 "sql": check.get("sql")}
        if check.get("actual") is None and check.get("message"):
            facts["error"] = check.get("message")
        # SSOT first: A brings the server to the SSOT, B accepts what was found.
        dec = _decisions.build("validate", check["id"], facts, ("fix", "accept"), ssot_digest, lang)
        check["decision"] = dec["id"]
        decisions.append(dec)
    for finding in found:
        if not _model.decides(finding["severity"]):
            continue
        dec = _decisions.build(
            "finding", finding["id"][len("finding."):], {"finding": finding["id"], "code": finding["code"],
                                                         "params": finding.get("params") or {},
                                                         "actual": finding.get("actual")},
            ("remediate", "accept_risk"), ssot_digest, lang)
        finding["decision"] = dec["id"]
        decisions.append(dec)
    return decisions


def findings_text(found):
    lines = ["-- findings (always watched)"]
    for f in found:
        lines.append("%-9s %-40s %s" % (f["severity"].upper(), f["id"], f["title"]))
        lines.append("          %s" % f["explanation"])
    return "\n".join(lines) + "\n"
