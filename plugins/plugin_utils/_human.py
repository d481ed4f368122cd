# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The views for people: project-panel.html, homologacao-conectividade-ssot.md and the log of a run.

PRIVATE: internal to ssot.governance; its API may change at any time (controller side).

Each is rendered from the same state as runbook.json / project-panel.json (never from anything
else), in the operator's language, every text from the message catalog. The page is one file:
no script, font, image or style from anywhere else, readable on a phone and printable.
"""

from __future__ import annotations

import html
import os
import re
import shlex

from ansible_collections.ssot.governance.plugins.module_utils import _model
from ansible_collections.ssot.governance.plugins.module_utils._text import catalog, message as text
from ansible_collections.ssot.governance.plugins.module_utils._text import message as _catalog_text

CHECKLIST = "homologacao-conectividade-ssot.md"
PANEL_HTML = "project-panel.html"
LOG_DIR = "logs"
MARK = {"done": "x", "match": "x", "passed": "x"}

STYLE = """
:root{--ok:#1b7f3b;--warn:#a36200;--bad:#b3261e;--muted:#5f6368;--line:#d9dce1;--bg:#fafbfc}
*{box-sizing:border-box}body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
color:#1f2328;background:var(--bg)}main{max-width:960px;margin:0 auto;padding:16px}
h1{font-size:1.4em;margin:.2em 0}h2{font-size:1.1em;margin:1.4em 0 .5em;border-bottom:1px solid var(--line)}
.meta{color:var(--muted);font-size:.9em;word-break:break-all}code,pre{font:13px/1.4 ui-monospace,Menlo,Consolas,
monospace}pre{background:#fff;border:1px solid var(--line);padding:8px;overflow-x:auto;white-space:pre-wrap}
ol.timeline{list-style:none;padding:0;margin:0;border-left:3px solid var(--line)}
ol.timeline li{position:relative;margin:0 0 12px 0;padding:4px 0 4px 18px}
ol.timeline li::before{content:"";position:absolute;left:-9px;top:9px;width:15px;height:15px;border-radius:50%;
background:var(--line);border:2px solid #fff}
li.st-done::before{background:var(--ok)}li.st-in_progress::before{background:#1a73e8}
li.st-blocked::before{background:var(--warn)}li.st-failed::before{background:var(--bad)}
.badge{display:inline-block;padding:0 8px;border-radius:10px;font-size:.8em;background:var(--line)}
.st-done .badge,.b-ok{background:#d7f0de}.st-blocked .badge,.b-warn{background:#fde8c8}
.st-failed .badge,.b-bad{background:#f9d7d5}
.card{background:#fff;border:1px solid var(--line);border-radius:6px;padding:10px 12px;margin:8px 0}
details{background:#fff;border:1px solid var(--line);border-radius:6px;padding:4px 10px;margin:8px 0}
summary{cursor:pointer;font-weight:600;padding:4px 0}h3{font-size:1em;margin:.8em 0 .3em}
table{border-collapse:collapse;width:100%;background:#fff}td,th{border:1px solid var(--line);padding:4px 6px;
text-align:left;vertical-align:top;font-size:.9em}td a{word-break:break-all}.empty{color:var(--muted)}
""" + "".join(".b-%s{background:%s}" % (s.name, s.badge) for s in _model.SEVERITIES) + """
@media (max-width:600px){body{font-size:14px}main{padding:10px}table,tbody,tr,td{display:block;width:100%}
thead{display:none}td{border:0;border-bottom:1px solid var(--line)}}
@media print{body{background:#fff}main{max-width:none}a{color:inherit;text-decoration:none}
.card,tr,li{break-inside:avoid}}
"""


_CONTROL = re.compile(u"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~])")
_SHELL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def visible(value):
    """Text with terminal control sequences and invisible characters shown as escapes (never sent raw)."""
    text_value = "" if value is None else str(value)
    return _CONTROL.sub(lambda m: "\\x%02x" % ord(m.group()) if ord(m.group()) < 0x100
                        else "\\u%04x" % ord(m.group()), text_value)


def _e(value):
    return html.escape(visible(value), quote=True)


def md(value):
    """A value from the SSOT or a result as Markdown text: one line, no structure of its own (no heading,
    checkbox, link, emphasis or code fence can come from it). Values never start a line of the checklist, so
    only what is Markdown inside a line is escaped (a heading or list marker needs the start of a line)."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(visible(value).split()))


def q(value):
    """A value as one shell word: pasted into a shell it is that text, never code. A value with control or
    invisible characters is written in bash's $'...' form with each such character escaped, so the page and
    the terminal never receive them raw."""
    text_value = "" if value is None else str(value)
    if not _CONTROL.search(text_value) and "\n" not in text_value and "\t" not in text_value:
        return shlex.quote(text_value)
    out = []
    for c in text_value:
        if c in ("\\", "'"):
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\t" or _CONTROL.match(c):
            out.append("\\x%02x" % ord(c) if ord(c) < 0x80 else "\\u%04x" % ord(c))
        else:
            out.append(c)
    return "$'%s'" % "".join(out)


def code(value):
    """A value as a Markdown code span (paths, digests): shown as written, never read as Markdown."""
    body = " ".join(visible(value).split())
    ticks = "`" * (max([len(r) for r in re.findall(r"`+", body)] + [0]) + 1)
    pad = " " if body.startswith("`") or body.endswith("`") else ""
    return "%s%s%s%s%s" % (ticks, pad, body, pad, ticks)


def _fence(commands):
    """A code fence longer than any run of backticks in the commands, so none can close it."""
    longest = max([len(r) for c in commands for r in re.findall(r"`+", c)] + [2])
    return "`" * (longest + 1)


def _status(lang, status):
    return _label(lang, "status", status)


def _severity(lang, severity):
    return _label(lang, "severity", severity or "-")


def approval_example(decision, lang):
    """The approvals.yml entry a named person would add for ``decision`` (the first option)."""
    options = decision.get("options") or [{"id": "<%s>" % text(lang, "panel.approve.option")}]
    return "\n".join([
        "approvals:",
        "  - decision: %s" % decision["id"],
        "    option: %s" % options[0]["id"],
        "    approved_by: \"%s\"" % text(lang, "panel.approve.who"),
        "    approved_at: \"%s\"" % text(lang, "panel.approve.when"),
        "    reason: \"%s\"" % text(lang, "panel.approve.why"),
        "    ssot_digest: \"%s\"" % (decision.get("ssot_digest") or ""),
    ])


def _page_start(lang, title, style=""):
    """The opening of a self-contained page: language, viewport, title, the one stylesheet, the heading."""
    return ["<!DOCTYPE html>", '<html lang="%s">' % _e(lang), "<head>", '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">', "<title>%s</title>" % _e(title),
            "<style>%s%s</style>" % (STYLE, style), "</head>", "<body><main>", "<h1>%s</h1>" % _e(title)]


def panel_html(panel, decisions, lang, exists=None, runs=()):
    """project-panel.html: the panel document (project-panel.json) as one self-contained page.

    ``decisions`` are the runbook's (for the options and digest of the pending ones), ``runs`` its runs (to name
    each group of evidence); ``exists(path)`` says whether an evidence file is there, so a link that would not
    resolve is not drawn as one.
    """
    exists = exists or (lambda path: True)
    project = panel.get("project") or {}
    ssot = panel.get("ssot") or {}
    by_id = dict((d["id"], d) for d in decisions)
    out = _page_start(lang, text(lang, "panel.title", name=project.get("name") or "-")) + [
        '<p class="meta" id="ssot">%s</p>' % _e(text(lang, "panel.ssot", path=ssot.get("path") or "-",
                                                     digest=ssot.get("digest") or "-")),
        '<p class="meta">%s</p>' % _e(text(lang, "panel.generated", at=_second(panel.get("generated_at")),
                                           owner=project.get("owner") or "-"))]

    def section(key, items):
        """A counted heading; when there is nothing to list, the catalog's sentence that says so."""
        out.append("<h2>%s</h2>" % _e(text(lang, "panel.%s" % key, count=len(items))))
        if not items:
            out.append('<p class="empty">%s</p>' % _e(text(lang, "panel.%s.none" % key)))
        return bool(items)

    # Milestones as a timeline.
    out.append("<h2>%s</h2>" % _e(text(lang, "panel.milestones")))
    out.append('<ol class="timeline">')
    for m in panel.get("milestones") or []:
        out.append('<li class="st-%s" data-milestone="%s" data-status="%s"><strong>%s</strong> '
                   '<span class="badge">%s</span>' % (_e(m["status"]), _e(m["id"]), _e(m["status"]),
                                                      _e(text(lang, "panel.phase", phase=m["phase"], title=m["title"])),
                                                      _e(_status(lang, m["status"]))))
        if m.get("updated_at"):
            out.append('<div class="meta">%s</div>' % _e(text(lang, "panel.updated", at=_second(m["updated_at"]))))
        if m.get("decisions_pending"):
            out.append("<div>%s</div>" % _e(text(lang, "panel.waiting", ids=", ".join(m["decisions_pending"]))))
        if m.get("next_steps"):
            out.append("<ul>%s</ul>" % "".join("<li>%s</li>" % _e(s) for s in m["next_steps"]))
        out.append("</li>")
    out.append("</ol>")
    # Pending decisions, each with the entry that approves it.
    pending = panel.get("decisions_pending") or []
    section("decisions", pending)
    for d in pending:
        full = by_id.get(d["id"], d)
        out.append('<div class="card" data-decision="%s"><strong>%s</strong><div><code>%s</code></div>'
                   % (_e(d["id"]), _e(d.get("title") or d["id"]), _e(d["id"])))
        for key in ("context", "risk", "rollback"):
            if full.get(key):
                out.append("<div>%s</div>" % _e(text(lang, "panel.decision.%s" % key, value=full[key])))
        if full.get("options"):
            out.append("<div>%s</div>" % _e(text(lang, "panel.decision.options", options="; ".join(
                "%s (%s)" % (o.get("id"), o.get("label", "")) for o in full["options"]))))
        for why in d.get("refusals") or []:
            out.append('<div class="refused">%s</div>' % _e(text(lang, "panel.decision.refused", why=why)))
        out.append("<div>%s</div><pre>%s</pre></div>" % (
            _e(text(lang, "panel.decision.how", file=d.get("how_to_approve") or "approvals.yml")),
            _e(approval_example(full, lang))))
    # Deviations and findings, by severity.
    for key, items in (("deviations", panel.get("deviations") or []), ("findings", panel.get("findings") or [])):
        items = sorted(items, key=lambda i: (_model.severity_rank(i.get("severity")), str(i.get("id"))))
        if not section(key, items):
            continue
        out.append("<table><thead><tr><th>%s</th><th>%s</th><th>%s</th></tr></thead><tbody>" % (
            _e(text(lang, "panel.col.severity")), _e(text(lang, "panel.col.what")), _e(text(lang, "panel.col.detail"))))
        for i in items:
            detail = i.get("explanation") or text(lang, "panel.expected_actual", expected=i.get("expected", "-"),
                                                  actual=i.get("actual", "-"))
            out.append('<tr data-%s="%s"><td><span class="badge b-%s">%s</span></td><td>%s</td><td>%s</td></tr>' % (
                key[:-1], _e(i.get("id")), _e(i.get("severity")), _e(_severity(lang, i.get("severity"))),
                _e(i.get("title") or i.get("description") or i.get("id")), _e(detail)))
        out.append("</tbody></table>")
    # Snapshots with their verify status.
    snapshots = panel.get("snapshots") or []
    section("snapshots", snapshots)
    for snap in snapshots:
        good = snap.get("status") == "verified" and snap.get("restore") != "failed"
        restore = ""
        if snap.get("restore"):
            restore = ' <span class="badge %s">%s</span>' % ("b-ok" if snap["restore"] == "passed" else "b-bad",
                                                             _e(_label(lang, "snapshot.restore", snap["restore"])))
        out.append('<div class="card" data-snapshot="%s" data-status="%s"><code>%s</code> '
                   '<span class="badge %s">%s</span>%s<div class="meta">%s</div></div>' % (
                       _e(snap["path"]), _e(snap.get("status", "unverified")), _e(snap["path"]),
                       "b-ok" if good else "b-bad", _e(_label(lang, "snapshot.status", snap.get("status", "unverified"))),
                       restore, _e(text(lang, "panel.snapshot.detail", files=snap.get("files", "-"),
                                        at=_second(snap.get("at")) or "-"))))
    # Evidence by run (newest first, older runs folded) and, inside a run, by phase; linked relative to the page.
    evidences = panel.get("evidences") or []
    if section("evidence", evidences):
        out.extend(_evidence_groups(evidences, runs, panel.get("milestones") or [], lang, exists))
    calls = panel.get("agent_calls") or []
    if calls:
        # What the assistant beside the operator did (the MCP server): it reads, validates and drafts, never approves.
        out.append('<h2 id="agent">%s</h2><table><tr><th>%s</th><th>%s</th><th>%s</th><th>%s</th></tr>' % (
            _e(text(lang, "panel.agent", count=len(calls))), _e(text(lang, "panel.col.when")),
            _e(text(lang, "panel.col.client")), _e(text(lang, "panel.col.tool")), _e(text(lang, "panel.col.detail"))))
        for call in reversed(calls):
            args = ", ".join("%s=%s" % (k, v) for k, v in sorted((call.get("arguments") or {}).items()))
            out.append('<tr data-agent-tool="%s"><td>%s</td><td>%s</td><td><code>%s</code>%s</td><td>%s</td></tr>' % (
                _e(call.get("tool")), _e(_second(call.get("at"))), _e(call.get("client") or "-"), _e(call.get("tool")),
                (" " + _e(args)) if args else "", _e(call.get("result") or "")))
        out.append("</table>")
    refs = panel.get("references") or []
    if refs:
        out.append("<h2>%s</h2><ul>" % _e(text(lang, "panel.references")))
        out += ['<li><a href="%s" rel="noreferrer">%s</a>%s</li>' % (
            _e(r.get("url")), _e(r.get("title") or r.get("url")), (" — " + _e(r["note"])) if r.get("note") else "")
            for r in refs]
        out.append("</ul>")
    out.append("</main></body></html>")
    return "\n".join(out) + "\n"


def _second(ts):
    """An ISO timestamp shown to the second: 2026-11-30 04:06:01."""
    return str(ts or "")[:19].replace("T", " ")


def _evidence_groups(evidences, runs, milestones, lang, exists):
    """One <details> per run, the newest first and open, the others folded; a table per phase inside."""
    runs_by_id = dict((r.get("id"), r) for r in runs or [])
    titles = dict((m["phase"], m["title"]) for m in milestones)
    groups = []
    for ev in reversed(evidences):                       # newest first
        if not groups or groups[-1][0] != ev.get("run_id"):
            groups.append((ev.get("run_id"), []))
        groups[-1][1].append(ev)
    out = []
    for i, (run_id, items) in enumerate(groups):
        run = runs_by_id.get(run_id) or {}
        out.append('<details%s data-run="%s"><summary>%s</summary>' % (
            " open" if i == 0 else "", _e(run_id), _e(text(
                lang, "panel.evidence.run", run=run_id or "-", playbook=run.get("playbook") or "-",
                at=_second(run.get("started_at") or items[-1].get("at")), count=len(items)))))
        by_phase = {}
        for ev in reversed(items):                       # in the order they were made
            by_phase.setdefault(ev.get("phase"), []).append(ev)
        for phase in sorted(by_phase, key=lambda p: (p is None, p if p is not None else 0)):
            heading = (text(lang, "panel.phase", phase=phase, title=titles.get(phase, "-")) if phase is not None
                       else text(lang, "panel.evidence.no_phase"))
            out.append('<h3 data-phase="%s">%s</h3>' % ("" if phase is None else phase, _e(heading)))
            out.append("<table><thead><tr><th>%s</th><th>%s</th><th>sha256</th></tr></thead><tbody>" % (
                _e(text(lang, "panel.col.file")), _e(text(lang, "panel.col.when"))))
            for ev in by_phase[phase]:
                name = _e(ev.get("title") or ev["path"])
                link = ('<a data-evidence href="%s">%s</a>' % (_e(ev["path"]), name) if exists(ev["path"])
                        else '%s <span class="badge b-bad">%s</span>' % (name, _e(text(lang,
                                                                                       "panel.evidence.missing"))))
                out.append("<tr><td>%s</td><td>%s</td><td><code>%s</code></td></tr>" % (
                    link, _e(_second(ev.get("at"))), _e(ev.get("sha256", "")[:16])))
            out.append("</tbody></table>")
        out.append("</details>")
    return out


def _label(lang, prefix, value):
    """The catalog's word for ``value`` (``prefix.value``), or the value itself when the catalog has none."""
    key = "%s.%s" % (prefix, value)
    return text(lang, key) if key in catalog(lang) else str(value)


def checklist_md(state, lang, milestones):
    """homologacao-conectividade-ssot.md: each step of the SSOT, its status as a checkbox, and the commands a
    person runs by hand to check it. Host, port and user are the SSOT's; never a password."""
    doc = state.ssot_map or {}
    target = doc.get("target") or {}
    conn = target.get("connection") or {}
    port = (target.get("ports") or [{}])[0]
    host = "127.0.0.1" if port.get("bind") in (None, "0.0.0.0", "::") else port["bind"]
    container = target.get("container") or "<container>"
    password = conn.get("password")
    env = password.get("env") if isinstance(password, dict) else None
    # Every value from the SSOT reaches a command as one quoted shell word (q), and the text as Markdown (md).
    dsn = "host=%s port=%s user=%s dbname=%s" % (host, port.get("host", 5432), conn.get("user", "postgres"),
                                                 conn.get("database", "postgres"))
    if env and not _SHELL_NAME.match(str(env)):
        env = None  # not a variable name a shell can expand: psql asks for the password instead
    # The password stays where the SSOT says it is: psql reads it from that variable, or asks.
    psql = ('PGPASSWORD="$%s" psql %s -Atc' % (env, q(dsn))) if env else "psql %s -Atc" % q(dsn)
    ws = state.workspace
    name = (doc.get("metadata") or {}).get("name") or state.project.get("name") or "-"
    out = ["# %s" % text(lang, "checklist.title", name=md(name)), "",
           text(lang, "checklist.intro", digest=code(state.ssot.get("digest") or "-"),
                path=code(state.ssot.get("path") or "-")),
           "", text(lang, "checklist.password.env", env=env) if env else text(lang, "checklist.password.ask"), ""]

    def item(status, label, commands, prefix="check.status"):
        out.append("- [%s] %s — %s" % (MARK.get(status, " "), label, _label(lang, prefix, status)))
        if commands:
            fence = _fence(commands)
            out.extend(["", "  %ssh" % fence] + ["  " + c for c in commands] + ["  " + fence])
        out.append("")

    def seen(check_id):
        return (state.observed.get(check_id) or {}).get("status") or "pending"

    out += ["## %s" % text(lang, "checklist.phases"), ""]
    for m in milestones:
        item(m["status"], text(lang, "panel.phase", phase=m["phase"], title=md(m["title"])),
             [" ".join(q(w) for w in _model.manual_command(m["phase"], workspace=ws, container=container))],
             prefix="status")
    out += ["## %s" % text(lang, "checklist.checks"), ""]
    for art in doc.get("artifacts") or []:
        if isinstance(art, dict) and art.get("id"):
            item(seen("artifact.%s.sha256" % art["id"]), text(lang, "checklist.artifact", id=md(art["id"]),
                                                              path=code(art.get("path", "-"))),
                 ["sha256sum %s" % q(os.path.join(ws, str(art.get("path", "")))),
                  "docker image inspect --format '{{.Id}}' %s" % q(art.get("image", "<image>"))]
                 if art.get("path") else [])
    item(seen("exposure.published"), text(lang, "checklist.connect", container=md(container), host=md(host),
                                          port=md(port.get("host", "-"))),
         ["docker inspect --format '{{json .NetworkSettings.Ports}}' %s" % q(container), "%s 'SELECT 1'" % psql])
    major = (doc.get("postgres") or {}).get("major")
    if major:
        item(seen("postgres.major"), text(lang, "checklist.major", major=md(major)),
             ["%s 'SHOW server_version'" % psql])
    for key, expected in sorted(((doc.get("postgres") or {}).get("settings") or {}).items()):
        item(seen("setting.%s" % key), text(lang, "checklist.setting", name=md(key), expected=md(expected)),
             ["%s %s" % (psql, q("SHOW %s" % key))])
    for check in doc.get("checks") or []:
        if isinstance(check, dict) and check.get("id"):
            item(seen("check.%s" % check["id"]), text(lang, "checklist.check", id=md(check["id"]),
                                                      description=md(check.get("description", "")),
                                                      expected=md(check.get("expect", "-"))),
                 ["%s %s" % (psql, q(check["sql"]))] if check.get("sql") else [])
    proven = [s for s in state.snapshots.values() if s.get("recipe")]
    if proven:
        # The recipe the last restore test ran, line for line: what a person pastes in the snapshot folder.
        snap = max(proven, key=lambda s: s.get("at") or "")
        folder = snap["path"] if os.path.isabs(snap["path"]) else os.path.join(ws, snap["path"])
        out += ["## %s" % text(lang, "checklist.snapshot"), ""]
        item("passed" if snap.get("restore") == "passed" else snap.get("restore") or "pending",
             text(lang, "checklist.snapshot.recipe", path=code(snap["path"])), ["cd %s" % q(folder)] + snap["recipe"],
             prefix="snapshot.restore")
    pending = [d for d in state.decisions.values() if d.get("status") in ("pending", "expired")]
    if pending:
        # What waits for a person, and why each approval given for it did not count (a refusal is a record).
        out += ["## %s" % text(lang, "checklist.decisions"), ""]
        for d in pending:
            out.append("- [ ] %s — %s" % (code(d["id"]), md(d.get("title") or "")))
            out.extend("  - %s" % md(text(lang, "panel.decision.refused", why=why)) for why in d.get("refusals") or [])
        out.append("")
    out += ["## %s" % text(lang, "checklist.records"), "", text(lang, "checklist.records.how"), "",
            "```sh", " ".join(q(w) for w in _model.manual_command(0, workspace=ws)), "```", ""]
    return "\n".join(out)


def run_log(state, run_id, lang, milestones):
    """logs/<run>.log: what ran, what was decided and by whom, what is pending - a short narrative. Every value
    is one line with control sequences shown as escapes: a log read with cat or less cannot clear the screen,
    retitle the terminal or fake a line."""
    def text(lang, key, **params):  # noqa: F811 - the catalog text, with values made safe for a terminal
        return _catalog_text(lang, key, **dict((k, " ".join(visible(v).split())) for k, v in params.items()))

    run = state.runs.get(run_id) or {}
    lines = [text(lang, "log.run", run=run_id, playbook=run.get("playbook") or "-", start=run.get("started_at", "-"),
                  user=run.get("user") or "-")]
    if run.get("tags"):
        lines.append(text(lang, "log.tags", tags=", ".join(run["tags"])))
    found = run.get("found_interrupted")
    if found:
        lines.append(text(lang, "log.found_interrupted", run=found["run"], playbook=found.get("playbook") or "-",
                          during="; ".join(found.get("during") or []) or "-"))
    # What ran, phase by phase (the catalog's titles; a play's own name is code, not an operator text).
    groups = []
    for step in state.steps.values():
        if step.get("run_id") == run_id and step.get("phase", None) not in groups:
            groups.append(step.get("phase"))
    by_phase = dict((m["phase"], m) for m in milestones)
    for phase in groups:
        steps = [s for s in state.steps.values() if s.get("run_id") == run_id and s.get("phase") == phase]
        changed = [s for s in steps if s.get("status") == "done" and "changed" in (s.get("hosts") or {}).values()]
        what = text(lang, "panel.phase", phase=phase, title=by_phase[phase]["title"]) if phase in by_phase \
            else text(lang, "log.other_steps")
        lines.append(text(lang, "log.play", play=what, changed=len(changed),
                          ok=sum(1 for s in steps if s.get("status") == "done") - len(changed),
                          failed=sum(1 for s in steps if s.get("status") == "failed"),
                          skipped=sum(1 for s in steps if s.get("status") == "skipped")))
        lines += ["  " + text(lang, "log.failed_step", step=s["name"], msg=s.get("message", "-"))
                  for s in steps if s.get("status") == "failed"]
    for dec_id in state.run_decisions.get(run_id, []):
        d = state.decisions.get(dec_id) or {}
        answer = d.get("answer") or {}
        if d.get("status") == "pending":
            continue
        lines.append(text(lang, "log.decided", id=dec_id, status=_label(lang, "decision.status", d.get("status")),
                          by=answer.get("by", "-"), option=answer.get("option", "-"), at=answer.get("at", "-"),
                          signature=signature(lang, answer)))
    evidence = [e for e in state.evidences if e.get("run_id") == run_id]
    lines.append(text(lang, "log.evidence", count=len(evidence), run=run_id))
    pending = state.pending_decisions()
    lines += [text(lang, "log.pending", id=d["id"], title=d.get("title", "")) for d in pending]
    stuck = [m for m in milestones if m["status"] in ("blocked", "failed")]
    lines += [text(lang, "log.milestone", phase=m["phase"], title=m["title"], status=_status(lang, m["status"]))
              for m in stuck]
    if not pending and not stuck:
        lines.append(text(lang, "log.nothing_pending"))
    if run.get("status") and run["status"] != "running":
        lines.append(text(lang, "log.ended", end=run.get("ended_at", "-"), status=_label(lang, "run.status",
                                                                                         run["status"])))
    else:
        lines.append(text(lang, "log.running"))
    return "\n".join(lines) + "\n"


def render(state, generated_at, runbook_doc, panel_doc, run_id, exists):
    """{relative path: text} of the human views for the current state."""
    lang = state.language
    out = {PANEL_HTML: panel_html(panel_doc, runbook_doc.get("decisions") or [], lang, exists,
                                  runbook_doc.get("runs") or []),
           CHECKLIST: checklist_md(state, lang, panel_doc["milestones"])}
    if run_id:
        out["%s/%s.log" % (LOG_DIR, run_id)] = run_log(state, run_id, lang, panel_doc["milestones"])
    return out


def signature(lang, answer):
    """Whether an approval was signed, and by which key, in words."""
    if answer.get("key"):
        return text(lang, "decision.signed", key=answer["key"])
    return text(lang, "decision.unsigned")


_FLEET_BADGE = {"done": "b-ok", "blocked": "b-warn", "failed": "b-bad"}
# Host names and the panel link are read whole, never broken mid-word.
_FLEET_STYLE = "#fleet code,#fleet a{white-space:nowrap;word-break:normal;overflow-wrap:normal}"


def fleet_html(doc, lang):
    """fleet-panel.html: one row per environment (fleet-panel.json), self-contained, links to each own panel."""
    rows = doc.get("environments") or []
    out = _page_start(lang, text(lang, "fleet.title", count=len(rows)), _FLEET_STYLE) + [
        '<p class="meta">%s</p>' % _e(text(lang, "fleet.generated", at=_second(doc.get("generated_at")))),
        '<table id="fleet"><thead><tr>%s</tr></thead><tbody>' % "".join(
            "<th>%s</th>" % _e(text(lang, "fleet.col." + col))
            for col in ("host", "milestones", "pending", "deviations", "last_run", "panel"))]
    for env in rows:
        milestones = " ".join('<span class="badge %s" title="%s">%s</span>' % (
            _FLEET_BADGE.get(m.get("status"), ""), _e(m.get("title")),
            _e("%s %s" % (m.get("phase"), _status(lang, m.get("status"))))) for m in env.get("milestones") or [])
        pending = "<br>".join("<code>%s</code> — %s" % (_e(d.get("id")), _e(d.get("title")))
                              for d in env.get("decisions_pending") or []) or _e(text(lang, "fleet.none"))
        last = env.get("last_run") or {}
        run = _e(text(lang, "fleet.run", playbook=last.get("playbook") or "-", status=_status(lang, last.get("status")),
                      at=_second(last.get("ended_at") or last.get("started_at")))) if last else _e("-")
        out.append('<tr class="env" data-host="%s"><td>%s<br><span class="meta">%s</span></td><td>%s</td><td>%s</td>'
                   '<td>%s</td><td>%s</td><td><a href="%s">%s</a></td></tr>' % (
                       _e(env.get("host")), "<code>%s</code>" % _e(env.get("host")), _e(env.get("project")),
                       milestones, pending,
                       _e(env.get("deviations", 0)), run, _e(env.get("panel")), _e(text(lang, "fleet.open_panel"))))
    out += ["</tbody></table>", "</main></body></html>", ""]
    return "\n".join(out)
