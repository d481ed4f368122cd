#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: ingest_sources
short_description: Find the SSOT's data sources and plan the ingestion, database by database (read-only)
version_added: 1.0.0
description:
  - Checks each source the SSOT names (C(sources)) - a source container (running, its server version, the databases
    it holds, client tools at least as new as its server), a dump file or folder (there, its format), a connection
    reference (the address answers) - and says for each whether it was found, with evidence.
  - None available - the phase 5 milestone is returned blocked as C(Disponibilizar fonte de dados), with next steps
    saying what to provide, and the module fails, so nothing after it runs.
  - For each database of a found source, compares the target with the source (per table row counts and, when both
    servers are of the same major, content checksums) - C(load) when the target lacks the database, C(present) when
    it matches (nothing to do), C(reload) when it differs - and returns a decision for each C(load) or C(reload).
    A second run after an ingestion finds the data there and raises no decision.
options:
  sources:
    description: The SSOT's C(sources) list.
    type: list
    elements: dict
    required: true
  target:
    description: The target container (the SSOT's C(target.container)).
    type: str
    required: true
  workspace:
    description: The workspace (relative dump paths are under it).
    type: path
    required: true
  user:
    description: Database superuser in the containers (socket, peer).
    type: str
    default: postgres
  checksums:
    description: Compare content checksums as well as row counts (the SSOT's C(ingest.checksums)).
    type: bool
    default: true
  jobs:
    description: Parallel jobs the SSOT allows (C(ingest.jobs)); above 1 a container source moves in directory format.
    type: int
    default: 1
  globals:
    description:
      - Whether the load creates the source's roles the target lacks (C(ingest.globals)). When it does, the role
        statements are built from a container source's catalog (C(pg_authid), C(pg_auth_members)), never copied
        as SQL text - LOGIN, INHERIT, the password hash, connection limit and expiry; every other attribute, every
        membership in an existing role and every role setting only as O(roles) grants. They are facts of each
        decision (C(roles), a password hash masked) with their sha256 (C(globals_sha256)), and what the source holds
        that is left out is listed (C(roles_dropped)) - the approval binds exactly the roles the load creates.
      - A role name holding a control character fails the module (nothing of that source is copied).
    type: bool
    default: true
  roles:
    description:
      - The SSOT's C(ingest.roles) - per role name, the C(attributes) (SUPERUSER, CREATEDB, CREATEROLE, REPLICATION,
        BYPASSRLS) and the existing roles it may be a member of (C(member_of)) that the load may give it.
    type: dict
    default: {}
  owner:
    description:
      - The SSOT's C(ingest.owner) - the role that owns what a load restores (created NOLOGIN, without attributes,
        when the target lacks it). A load restores as a role made for it, without attributes, then hands what it made
        to this owner. Without it, the owner is the source database's owner when the target has that role (or the
        load creates it) and it is no superuser there (nor a member of one); otherwise the database is C(refused)
        (a check names what to set) and no decision is raised for it.
      - Each decision's facts carry the owner (C(owner), C(owner_how)) - the approval binds it.
    type: str
  fail_on_mismatch:
    description: Fail, naming each table, when a database of the target differs from its source.
    type: bool
    default: false
extends_documentation_fragment:
  - ssot.governance.decisions
  - ssot.governance.attributes
  - ssot.governance.attributes.READ_ONLY
author:
  - ssot.governance maintainers (@ssot-governance)
'''

EXAMPLES = r'''
- name: Sources and plan
  ssot.governance.ingest_sources:
    sources: "{{ ssot_doc.sources }}"
    target: "{{ ssot_doc.target.container }}"
    workspace: "{{ ssot_workspace_dir }}"
    ssot_digest: "{{ ssot_digest }}"
'''

RETURN = r'''
sources:
  description: Each source with C(status) (found or missing), C(reason) when missing, and what was seen.
  returned: always
  type: list
  elements: dict
  sample: [{"id": "legacy-shop", "kind": "container", "status": "found", "databases": ["legacy_shop"]}]
plan:
  description: Per source and database - C(action) (load, present, reload, unsupported), the method, comparisons.
  returned: always
  type: list
  elements: dict
  sample: [{"source": "legacy-shop", "database": "legacy_shop", "action": "load", "method": "stream-custom"}]
checks:
  description: One check per source (found or missing) and per database compared, for the runbook's deviations.
  returned: always
  type: list
  elements: dict
  sample: [{"id": "ingest.source.legacy-shop", "status": "match", "expected": "found", "actual": "found"}]
target_roles:
  description: The roles the target has now (a rollback drops the ones an ingestion adds).
  returned: when a source was found
  type: list
  elements: str
  sample: ["postgres"]
decisions:
  description: One decision per database to load or reload, with its status.
  returned: always
  type: list
  elements: dict
  sample: []
milestone:
  description: Phase 5 milestone (blocked as C(Disponibilizar fonte de dados) when no source is available).
  returned: always
  type: dict
  sample: {"phase": 5, "status": "blocked", "title": "Disponibilizar fonte de dados", "next_steps": ["..."]}
evidence:
  description: The sources and the plan, as a text log and as JSON.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "ingest-sources.log", "text": "..."}]
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ssot.governance.plugins.module_utils import (
    _decisions, _engine, _ingest, _pgdata, _result)
from ansible_collections.ssot.governance.plugins.module_utils._text import message as text, rendered, shown


def method_of(src, jobs):
    if src["kind"] == "dump":
        return {"sql-dump": "psql", "custom-dump": "pg_restore", "directory": "pg_restore-jobs"}[src["format"]]
    return "directory-jobs" if jobs > 1 else "stream-custom"


def next_step(lang, src):
    if src["kind"] == "container":
        return text(lang, "ingest.next.container", id=src["id"], container=src.get("container"),
                    databases=", ".join(src.get("databases") or []) or "-", reason=src.get("reason"))
    if src["kind"] == "dump":
        return text(lang, "ingest.next.dump", id=src["id"], path=src.get("path"), reason=src.get("reason"))
    conn = src.get("connection") or {}
    return text(lang, "ingest.next.connection", id=src["id"], host=conn.get("host"), port=conn.get("port"),
                reason=src.get("reason"))


def dropped_text(lang, d):
    """One thing the source's roles hold that the load leaves out, as the card says it."""
    return text(lang, "ingest.dropped." + d["what"], role=d["role"], names=", ".join(d.get("names") or []),
                of=d.get("of") or "", database=d.get("database") or "*",
                why=text(lang, "ingest.dropped.why." + d["why"]))


def owner_of(p, item, src, roles, have, supers):
    """(owner, how) of what loading ``item`` restores (_ingest.load_owner), with the roles the load would create
    counted as the target's (a superuser when the SSOT would make them one)."""
    created = set((roles or {}).get("create") or [])
    return _ingest.load_owner(p["owner"], _ingest.source_owner(src, item["database"]), have | created,
                              supers | set(r for r in created if _ingest.made_super(r, p["roles"], supers)),
                              item["database"])


def decision_for(item, src, target, ssot_digest, lang, roles=None, code=None):
    """The pending decision to load (or reload) one database; the controller settles it. ``roles`` (the source's
    globals plan, when roles are copied) puts on the card every role statement the load runs in the target, a
    password hash masked, and binds their sha256; ``code`` (the database's code inventory) lists the code and
    settings the load brings and binds its sha256 (the decision id covers both)."""
    method = item["method"]
    extra = {"owner": item["owner"], "owner_how": item["owner_how"]}
    if roles is not None:
        extra.update(roles=roles["statements"], globals_sha256=roles["sha256"])
        if roles.get("dropped"):
            extra["roles_dropped"] = [dropped_text(lang, d) for d in roles["dropped"]]
    if code is not None:
        extra.update(code=_ingest.code_lines(code, lang), functions=code["functions"], code_sha256=code["sha256"],
                     restorable_sha256=code["restorable_sha256"], schema_portable=code["schema_portable"])
    elif src["kind"] == "dump":
        extra.update(code=[text(lang, "ingest.code.dump_unread")], dump_sha256=src.get("dump_sha256"))
    if item["action"] == "load":
        size = _decisions.size_bound((src.get("database_info") or {}).get(item["database"], {}).get("bytes")
                                     or src.get("bytes"))
        return _decisions.build(
            "ingest", "%s.%s.load" % (item["source"], item["database"]),
            dict({"source": item["source"], "database": item["database"], "target": target, "action": "load",
                  "size": size, "method": method}, **extra), ("ingest", "skip_ingest"), ssot_digest, lang)
    tables = [m["table"] or "(database)" for m in item["mismatches"]]
    return _decisions.build(
        "ingest", "%s.%s.reload" % (item["source"], item["database"]),
        dict({"source": item["source"], "database": item["database"], "target": target, "action": "reload",
              "fingerprint": item["fingerprint"], "tables": tables[:50], "count": len(tables)}, **extra),
        ("reload", "keep_target"), ssot_digest, lang)


def main():
    spec = _decisions.argument_spec()
    spec.update(sources=dict(type="list", elements="dict", required=True), target=dict(type="str", required=True),
                workspace=dict(type="path", required=True), user=dict(type="str", default="postgres"),
                checksums=dict(type="bool", default=True), jobs=dict(type="int", default=1),
                globals=dict(type="bool", default=True), roles=dict(type="dict", default={}),
                owner=dict(type="str"), fail_on_mismatch=dict(type="bool", default=False))
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    p = module.params
    lang = p["language"]
    if not p["sources"]:
        module.exit_json(changed=False, sources=[], plan=[], checks=[], decisions=[], evidence=[],
                         milestone=_result.milestone("ingest", "clear"),
                         msg=text(lang, "ingest.no_sources"))
    engine = _engine.Engine(module)
    if engine.running(p["target"]) is not True:
        module.fail_json(msg=text(lang, "ingest.target_not_running", container=p["target"]))
    sources = [_ingest.check_source(engine, s, p["workspace"], p["user"], p["target"], lang) for s in p["sources"]]
    checks = [{"id": "ingest.source.%s" % s["id"], "description": text(lang, "ingest.deviation.missing", id=s["id"]),
               "status": "match" if s["status"] == "found" else "deviation",
               "expected": text(lang, "ingest.expected.found"),
               "actual": text(lang, "ingest.expected.found") if s["status"] == "found" else
               text(lang, "ingest.actual.missing", reason=s.get("reason")),
               "severity": "high"} for s in sources]
    checks += [{"id": "ingest.tools.%s.%d" % (s["id"], n), "description": text(lang, "ingest.tools.check", id=s["id"]),
                "status": "deviation", "expected": text(lang, "ingest.tools.expected"), "actual": finding,
                "severity": "medium"} for s in sources for n, finding in enumerate(s.get("tool_findings") or [])]
    lines = [text(lang, "ingest.source.found", id=s["id"], kind=s["kind"]) if s["status"] == "found" else
             text(lang, "ingest.source.missing", id=s["id"], kind=s["kind"], reason=s.get("reason")) for s in sources]
    for s in sources:
        if s.get("tools"):
            lines.append("  %s: pg_dump %s, pg_restore %s; server %s" % (
                s["id"], shown(s["tools"]["pg_dump"]), shown(s["tools"]["pg_restore"]), shown(s["server"]["version"])))
    result = dict(changed=False, sources=sources, checks=checks, plan=[], decisions=[])
    if not any(s["status"] == "found" for s in sources):
        steps = [next_step(lang, s) for s in sources]
        result["milestone"] = _result.milestone("ingest", "blocked", steps, title=text(lang, "milestone.5.source"))
        result["evidence"] = [_result.evidence("ingest-sources.log", text="\n".join(lines + [""] + steps) + "\n"),
                              _result.evidence("ingest-sources.json", content={"sources": sources})]
        module.fail_json(msg=text(lang, "ingest.none_available", count=len(sources)) + " " + " ".join(steps),
                         **result)
    try:
        plan = _ingest.plan(engine, sources, p["target"], p["user"], p["checksums"], lang)
    except (_pgdata.PgDataError, _ingest.IngestError) as exc:
        module.fail_json(msg=rendered(exc, lang), **result)
    by_id = dict((s["id"], s) for s in sources)
    decisions = []
    globals_of = {}
    have = _ingest.target_roles(engine, p["target"], p["user"])
    supers = _ingest.superusers(engine, p["target"], p["user"])
    for item in plan:
        src = by_id[item["source"]]
        if item["action"] == "unsupported":
            lines.append("%s: %s" % (item["source"], item["reason"]))
            continue
        item["method"] = method_of(src, p["jobs"])
        if item["action"] in ("load", "reload"):
            roles = None
            if p["globals"] and src["kind"] == "container":
                if src["id"] not in globals_of:
                    try:
                        globals_of[src["id"]] = _ingest.globals_plan(engine, src["container"], p["target"],
                                                                     p["user"], p["roles"])[0]
                    except _ingest.IngestError as exc:
                        module.fail_json(msg=rendered(exc, lang), **result)
                roles = globals_of[src["id"]]
            try:
                item["owner"], item["owner_how"] = owner_of(p, item, src, roles, have, supers)
            except _ingest.IngestError as exc:
                # Refused: no decision for it; the check says what to set, the change fails on it.
                item.update(action="refused", reason=rendered(exc, lang))
                checks.append({"id": "ingest.owner.%s.%s" % (item["source"], item["database"]),
                               "description": text(lang, "ingest.owner.check", database=shown(item["database"])),
                               "status": "deviation", "expected": text(lang, "ingest.owner.expected"),
                               "actual": item["reason"], "severity": "high"})
                lines.append("%s: %s" % (item["source"], item["reason"]))
                continue
            code = None
            if src["kind"] == "container":
                try:
                    code = item["code"] = _ingest.code_inventory(engine, src["container"], item["database"], p["user"])
                except _pgdata.PgDataError as exc:
                    module.fail_json(msg=rendered(exc, lang), **result)
            item["decision"] = decision_for(item, src, p["target"], p["ssot_digest"], lang, roles, code)
            decisions.append(item["decision"])
            # What a rollback needs to undo this item: drop a created database, restore a reloaded one.
            item["rollback_entry"] = {"name": item["database"], "action": item["action"], "rows_before": dict(
                (c["table"], c["target"]) for c in item.get("comparisons") or [] if c["target"] is not None)}
        if "comparisons" in item:
            what = _pgdata.compared(item.get("checksums"), lang)
            bad = [_pgdata.describe(m, "target", lang) for m in item["mismatches"]]
            checks.append({"id": "ingest.%s.%s" % (item["source"], item["database"]),
                           "description": "%s: %s" % (item["database"], what),
                           "status": "deviation" if bad else "match", "expected": text(lang, "ingest.expected_equal"),
                           "actual": "; ".join(bad) if bad else text(lang, "ingest.actual_equal"), "severity": "high",
                           "decision": item["decision"]["id"] if bad else None})
            lines.append(text(lang, "ingest.mismatch", tables="; ".join(bad)) if bad else
                         text(lang, "ingest.present", database=shown(item["database"]), tables=len(item["comparisons"])))
        else:
            lines.append("%s %s: %s (%s)%s" % (item["source"], shown(item["database"]), item["action"],
                                               item["method"], "; " + item["note"] if item.get("note") else ""))
    missing = [s for s in sources if s["status"] != "found"]
    # Decisions are raised pending here; the action settles them - and blocks the milestone on one it cannot
    # approve - on the controller. The target reports only what it lacks (a source).
    result.update(plan=plan, decisions=decisions, checks=checks, target_roles=sorted(have))
    result["milestone"] = _result.milestone("ingest", "blocked" if missing else "clear",
                                            [next_step(lang, s) for s in missing])
    result["evidence"] = [_result.evidence("ingest-sources.log", text="\n".join(lines) + "\n"),
                          _result.evidence("ingest-plan.json", content={"sources": sources, "plan": plan})]
    mismatched = [i for i in plan if i.get("mismatches")]
    if p["fail_on_mismatch"] and mismatched:
        module.fail_json(msg=text(lang, "ingest.mismatch", tables="; ".join(
            _pgdata.describe(m, "target", lang) for i in mismatched for m in i["mismatches"])), **result)
    todo = [i for i in plan if i["action"] in ("load", "reload")]
    result["msg"] = text(lang, "ingest.nothing") if not todo else "; ".join(
        "%s %s: %s" % (i["source"], i["database"], i["action"]) for i in todo)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
