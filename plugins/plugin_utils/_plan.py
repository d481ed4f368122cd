# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plans of the MODIFY plays, computed on the controller from what the read-only checks found.

PRIVATE: internal to ssot.governance; its API may change at any time.
"""

from __future__ import annotations

from ansible_collections.ssot.governance.plugins.module_utils._findings import hba_method_index
from ansible_collections.ssot.governance.plugins.module_utils._text import DEFAULT_LANGUAGE, message as text

# pg_settings.source values a RESET brings back (the value comes from the file or the default).
RESETTABLE_SOURCES = ("default", "configuration file", "environment variable", "override")


def settings_plan(checks, rows, settings, proceed, lang=DEFAULT_LANGUAGE):
    """One entry per deviating setting whose decision may be fixed: set it, or skip it and say why.

    ``checks``: pg_check's checks; ``rows``: pg_settings rows (name, setting, unit, context, source,
    sourcefile) of the deviating settings; ``settings``: the SSOT's expectations; ``proceed``: decision
    ids approved with the option ``fix``.
    """
    by_name = dict((r["name"], r) for r in rows or [])
    plan = []
    for check in checks or []:
        if not check.get("id", "").startswith("setting.") or check.get("status") == "match":
            continue
        if check.get("decision") not in (proceed or []):
            continue
        name = check["id"][len("setting."):]
        row = by_name.get(name, {})
        expected = (settings or {}).get(name)
        if isinstance(expected, dict):
            expected = expected.get("equals") if set(expected) == {"equals"} else None
        entry = {"name": name, "decision": check["decision"], "current": row.get("setting", check.get("actual")),
                 "unit": row.get("unit"), "context": row.get("context"), "source": row.get("source"),
                 "sourcefile": row.get("sourcefile") or "",
                 "restart": row.get("context") == "postmaster"}
        if expected is None:
            entry.update(action="skip", reason=text(lang, "plan.skip.operator"))
        elif row.get("source") == "command line":
            entry.update(action="skip", reason=text(lang, "plan.skip.command_line"))
        elif row.get("context") == "internal":
            entry.update(action="skip", reason=text(lang, "plan.skip.internal"))
        else:
            # A value an earlier ALTER SYSTEM wrote (postgresql.auto.conf) comes back by SET; one from
            # postgresql.conf or the default by RESET (which removes this change from postgresql.auto.conf).
            from_auto = (row.get("sourcefile") or "").endswith("postgresql.auto.conf")
            entry.update(action="set", target=_pg_value(expected),
                         rollback="reset" if row.get("source") in RESETTABLE_SOURCES and not from_auto else "set")
        plan.append(entry)
    return plan


def _pg_value(value):
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)


def hba_without_trust(content, host_method="md5", local_method="peer"):
    """pg_hba.conf text with every ``trust`` replaced: password auth over TCP, peer on the socket.

    Returns {content, changes: [{line, before, after}], refused}. The file is written back by the
    server itself (COPY ... TO), whose text format would alter backslashes: such a file is refused
    rather than damaged.
    """
    if "\\" in content:
        return {"content": content, "changes": [],
                "refused": "pg_hba.conf holds a backslash (a regular expression?): change it by hand"}
    out, changes = [], []
    for number, raw in enumerate(content.splitlines(), 1):
        line = raw.replace("\t", " ")
        body, hash_, comment = line.partition("#")
        tokens = body.split()
        at = hba_method_index(tokens)
        if at is not None and tokens[at] == "trust":
            tokens[at] = local_method if tokens[0] == "local" else host_method
            new = " ".join(tokens) + ("  " + hash_ + comment if hash_ else "")
            changes.append({"line": number, "before": raw, "after": new})
            out.append(new)
        else:
            out.append(raw.replace("\t", " ") if raw.strip() else raw)
    return {"content": "\n".join(out) + "\n", "changes": changes, "refused": None}


def image_not_accepted(config, accepts, ssot_env=None, ssot_command=False):
    """What an image's configuration (``docker image inspect``'s ``Config``) would run that the SSOT's
    ``target.image_accepts`` does not accept: [{"what": entrypoint|cmd|env|volumes, "found": [...],
    "accepted": [...]}], empty when nothing. Environment names the SSOT sets itself (``ssot_env``) are the SSOT's;
    the image's command counts only when the SSOT gives none (``ssot_command``)."""
    config = config if isinstance(config, dict) else {}
    accepts = accepts if isinstance(accepts, dict) else {}
    out = []
    for what, key in (("entrypoint", "Entrypoint"), ("cmd", "Cmd")):
        found = [str(x) for x in config.get(key) or []]
        wanted = [str(x) for x in accepts.get(what) or []]
        if found != wanted and not (what == "cmd" and ssot_command):
            out.append({"what": what, "found": found, "accepted": wanted})
    names = [str(e).split("=", 1)[0] for e in config.get("Env") or []]
    allowed = set(accepts.get("env") or []) | set(ssot_env or [])
    if [n for n in names if n not in allowed]:
        out.append({"what": "env", "found": names, "accepted": sorted(allowed)})
    volumes = sorted(str(v) for v in (config.get("Volumes") or {}))
    if [v for v in volumes if v not in (accepts.get("volumes") or [])]:
        out.append({"what": "volumes", "found": volumes, "accepted": list(accepts.get("volumes") or [])})
    return out
