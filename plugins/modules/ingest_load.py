#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: ingest_load
short_description: Load the approved databases into the target, then compare them with their sources
version_added: 1.0.0
description:
  - For each item of O(plan) whose decision id is in O(proceed) - roles first (built from the source's catalog as
    M(ssot.governance.ingest_sources) shows them, in one transaction; roles the target lacks are created, roles it
    has are reported as conflicts and never altered), then the database - created with the source's encoding and
    collation, and loaded.
  - The role statements run only when their sha256 is the C(globals_sha256) of the approved items (the card's, given
    by the controller); otherwise nothing runs and the module fails saying the roles changed since the approval.
    Likewise a container source's database loads only when its code inventory (SECURITY DEFINER and untrusted
    functions, triggers, event triggers, casts, extensions, languages, settings) has the C(code_sha256) of the
    approved item.
  - Methods - a container source streams C(pg_dump -Fc) in the source container straight into C(pg_restore) in the
    target (an OS pipe; the data never passes through Ansible), or, with O(jobs) above 1, C(pg_dump -Fd -j) copied as
    a tar stream into C(pg_restore -j). A dump file goes into C(psql) (plain SQL) or C(pg_restore) (custom format,
    C(pg_dump -Fd) folder). A C(reload) drops the target's database first.
  - After loading, every table of a container source is compared with the target (row counts, and content checksums
    when the plan says so); a difference fails the module naming each table. A restore error fails the load too;
    either way the result says what the target's server holds after it (C(read_back)).
options:
  plan:
    description: The C(plan) of M(ssot.governance.ingest_sources).
    type: list
    elements: dict
    required: true
  sources:
    description: The C(sources) of M(ssot.governance.ingest_sources).
    type: list
    elements: dict
    required: true
  proceed:
    description: Decision ids approved with an option that loads (C(ingest), C(reload)).
    type: list
    elements: str
    required: true
  target:
    description: The target container.
    type: str
    required: true
  user:
    description: Database superuser in the containers (socket, peer).
    type: str
    default: postgres
  jobs:
    description: Parallel jobs (directory format) for container sources and dump folders.
    type: int
    default: 1
  globals:
    description: Create the source's roles the target lacks (conflicts are reported, never overwritten).
    type: bool
    default: true
  roles:
    description: The SSOT's C(ingest.roles) (what a created role may have beyond LOGIN and its password hash).
    type: dict
    default: {}
  owner:
    description:
      - The SSOT's C(ingest.owner). Each database is restored by a role made for the load (LOGIN over TCP to
        127.0.0.1 inside the target with a random password, no attribute, no membership, dropped after the load), so
        nothing the dump holds runs as a superuser; what it made then goes to the owner the approved card named (the
        plan item's C(owner), checked again here - another owner now loads nothing). A named owner the target lacks is
        created NOLOGIN, without attributes.
    type: str
  compression:
    description:
      - zlib level (0-9) of C(pg_dump) between two containers (the stream, or the folder of directory format).
      - The stream is never stored, so the cheapest level that keeps the pipe between the containers from being the
        bottleneck is fastest; 1 measured fastest on the benchmark (docs/benchmarks.md), 0 slower (more bytes
        through C(docker exec)), the default of C(pg_dump) (6) slowest.
    type: int
    default: 1
extends_documentation_fragment:
  - ssot.governance.language
  - ssot.governance.attributes
attributes:
  check_mode:
    support: none
    details: It creates databases and roles; the plan (M(ssot.governance.ingest_sources)) is the dry run.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: Only items whose plan says C(load) or C(reload) are touched; a second plan finds them C(present).
author:
  - ssot.governance maintainers (@ssot-governance)
'''

EXAMPLES = r'''
- name: Ingest what was approved
  ssot.governance.ingest_load:
    plan: "{{ __ingest_sources.plan }}"
    sources: "{{ __ingest_sources.sources }}"
    proceed: "{{ hitl_gate_proceed }}"
    target: legacy-pg-demo
'''

RETURN = r'''
loaded:
  description: Each database loaded - source, method, tools, seconds, restore errors, the role that restored it
    (C(restored_by), C(restored_by_dropped)) and the C(owner) it handed it to, what was checked against the card
    (C(verified)), the comparison, and C(read_back) (what the target's server holds after the load - owner, tables
    with owner and rows, functions).
    A restore error fails the load; the item is returned all the same.
  returned: always
  type: list
  elements: dict
  sample: [{"source": "legacy-shop", "database": "legacy_shop", "method": "stream-custom", "seconds": 1.9}]
roles:
  description: Roles created in the target, roles kept as they were (conflicts), and what the source's roles hold
    that was left out (C(dropped) - attributes, memberships, settings, clear-text passwords the SSOT does not grant).
  returned: always
  type: dict
  sample: {"created": ["shop_reader"], "conflicts": ["postgres"], "skipped": [], "dropped": []}
stale_loaders:
  description: Roles of earlier loads killed before their cleanup, made NOLOGIN without a password before this one.
  returned: when something was loaded
  type: list
  elements: str
  sample: []
mismatches:
  description: Tables that differ between a source and the target after loading.
  returned: always
  type: list
  elements: dict
  sample: []
evidence:
  description: What was loaded and compared, as a text log and as JSON.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "ingest-load.log", "text": "..."}]
'''

import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ssot.governance.plugins.module_utils._text import message as text, rendered, shown
from ansible_collections.ssot.governance.plugins.module_utils import _engine, _lifeline, _result
from ansible_collections.ssot.governance.plugins.module_utils import _ingest, _pgdata


def restore(engine, item, src, p, loader):
    """(rc of the read, rc of the restore, output lines) of loading one database as ``loader``."""
    db, target, user = item["database"], p["target"], p["user"]
    if src["kind"] == "container":
        if p["jobs"] > 1:
            return _ingest.directory_jobs(engine, src["container"], target, db, user, loader, p["jobs"],
                                          p["compression"])
        return _ingest.stream_custom(engine, src["container"], target, db, user, loader, p["compression"])
    # The file the card bound (its sha256, from the controller), before and after it is read: that or nothing.
    dump_unchanged(src, item)
    out = _ingest.load_dump(engine, src["path"], src["format"], target, db, loader, p["jobs"])
    dump_unchanged(src, item)
    return out


def dump_unchanged(src, item):
    unsafe = _ingest.unsafe_entries(src["path"])
    if unsafe:
        raise _ingest.IngestError("ingest.error.dump_unsafe", path=src["path"], names=", ".join(
            shown(n) for n in unsafe[:10]))
    found = _ingest.dump_digest(src["path"])
    if found != item.get("dump_sha256"):
        raise _ingest.IngestError("ingest.error.dump_changed", path=src["path"], found=found[:16],
                                  approved=str(item.get("dump_sha256"))[:16])


def load_one(engine, item, src, p, owner, loaded):
    """Load one approved database; what it did joins ``loaded`` first, so a failure still says it."""
    db, target, user = item["database"], p["target"], p["user"]
    out = {"source": item["source"], "database": db, "action": item["action"], "method": item["method"],
           "tools": src.get("tools") or {}}
    loaded.append(out)
    if src["kind"] == "container":
        out["compression"] = p["compression"]
    start = time.time()
    if item["action"] == "reload":
        _ingest.drop_database(engine, target, db, user)
    info = (src.get("database_info") or {}).get(db) or {"encoding": "UTF8", "collate": "C", "ctype": "C"}
    _ingest.create_database(engine, target, db, info, user, owner)
    out["owner"] = owner
    # Restored by a role made for it (no attribute): the dump's code never runs as a superuser. What it made goes
    # to the owner whatever happened; a failure to hand it over comes second to the failure that stopped the load.
    loader = _ingest.Loader(engine, target, db, user)
    out["restored_by"] = loader.name
    try:
        loader.open()
        rc1, rc2, errors = restore(engine, item, src, p, loader)
    except Exception:
        try:
            loader.close(owner)
        except (_ingest.IngestError, _pgdata.PgDataError):
            pass
        raise
    closed = None
    try:
        loader.close(owner)
        out["restored_by_dropped"] = True
    except _ingest.IngestError as exc:
        closed = exc
    out["seconds"] = round(time.time() - start, 3)
    out["restore_errors"] = _ingest.restore_errors(errors)
    # What the target holds now, as its server says (not what the tools claimed), whether the restore went well or not.
    out["read_back"] = _ingest.read_back(engine, target, db, user)
    if closed is not None:
        raise closed
    if rc1 != 0:
        raise _ingest.IngestError("ingest.load.read_failed", source=item["source"], database=db, rc=rc1,
                                  errors="; ".join(_ingest.restore_errors(errors[-3:]) or ["-"]))
    if out["restore_errors"]:
        # A restore error is a failed load: an object the source has and the target did not take as it is.
        raise _ingest.IngestError("ingest.load.restore_failed", database=db, target=target,
                                  count=len(out["restore_errors"]), errors=_ingest.first_errors(out["restore_errors"]))
    if rc2 != 0:
        raise _ingest.IngestError("ingest.load.load_failed", database=db, target=target, rc=rc2,
                                  errors="; ".join(_ingest.restore_errors(errors[-3:]) or ["-"]))
    if src["kind"] == "container":
        # What the target holds now against the card, read from the target's catalog (the source's server and tools
        # are its preparer's: they may describe one thing and dump another).
        out["verified"] = _ingest.verify_restored(engine, target, db, user, item.get("restorable_sha256"),
                                                  item.get("schema_portable"))
        what = item.get("checksums", False)
        source_stats, target_stats = _pgdata.table_stats_both(engine, src["container"], target, user, what, [db])
        out["comparisons"], out["mismatches"] = _pgdata.compare(source_stats, target_stats, "target")
        out["compared"] = _pgdata.compared(what, p["language"])
    else:
        out["comparisons"], out["mismatches"], out["compared"] = [], [], text(p["language"], "ingest.compared.dump")
    return out


def owners_of(engine, todo, by_id, p, result):
    """{database: owner} of the approved items, resolved again from the target as it is now (_ingest.load_owner):
    another owner than the approved card's, or a superuser where the card named none, loads nothing. A named owner
    the target lacks is created (NOLOGIN, without attributes) and read back."""
    have = _ingest.target_roles(engine, p["target"], p["user"])
    supers = _ingest.superusers(engine, p["target"], p["user"])
    logins = _ingest.role_names(engine, p["target"], p["user"], _ingest.LOGINS_SQL)
    owners = {}
    for item in todo:
        owner, how = _ingest.load_owner(p["owner"], _ingest.source_owner(by_id[item["source"]], item["database"]),
                                        have, supers, item["database"])
        # A card that said "created NOLOGIN": a role of that name that can log in now (the source's, created by the
        # roles step with its password) is another owner.
        login = item.get("owner_how") == "create" and owner in have and owner in logins
        if owner != item.get("owner") or login or (how == "named_super") != (item.get("owner_how") == "named_super"):
            raise _ingest.IngestError("ingest.error.owner_changed", database=shown(item["database"]),
                                      approved=shown(str(item.get("owner"))), found=shown(owner))
        owners[item["database"]] = owner
    for owner in sorted(set(owners.values()) - have):
        _ingest.create_owner(engine, p["target"], p["user"], owner)
    made = sorted(_ingest.target_roles(engine, p["target"], p["user"]) - have)
    result["roles"]["created"] += [r for r in made if r not in result["roles"]["created"]]
    return owners


def main():
    module = AnsibleModule(argument_spec=dict(language=dict(type="str", default="pt-BR"),
                                              plan=dict(type="list", elements="dict", required=True), sources=dict(type="list", elements="dict", required=True),
                                              proceed=dict(type="list", elements="str", required=True), target=dict(type="str", required=True),
                                              user=dict(type="str", default="postgres"), jobs=dict(type="int", default=1),
                                              globals=dict(type="bool", default=True), compression=dict(type="int", default=1),
                                              roles=dict(type="dict", default={}), owner=dict(type="str")),
                           supports_check_mode=False)
    p = module.params
    engine = _engine.Engine(module)
    # Killed with the run: what this module starts (pg_dump, pg_restore, docker) stops with ansible-playbook.
    _lifeline.start()
    if not 0 <= p["compression"] <= 9:
        module.fail_json(msg=text(p["language"], "ingest.load.bad_compression", value=p["compression"]))
    by_id = dict((s["id"], s) for s in p["sources"])
    todo = [i for i in p["plan"] if i.get("action") in ("load", "reload")
            and (i.get("decision") or {}).get("id") in p["proceed"]]
    result = {"changed": False, "loaded": [], "roles": {"created": [], "conflicts": [], "skipped": [], "dropped": []},
              "mismatches": []}
    try:
        for item in todo:
            src = by_id[item["source"]]
            if src["kind"] == "dump":
                dump_unchanged(src, item)
            if src["kind"] == "container":
                # The code the approved card listed (its sha256, from the controller), read again now, before
                # anything runs: that or nothing.
                code = _ingest.code_inventory(engine, src["container"], item["database"], p["user"])
                if item.get("code_sha256") != code["sha256"]:
                    raise _ingest.IngestError("ingest.error.code_changed", database=item["database"],
                                              container=src["container"], found=code["sha256"][:16],
                                              approved=str(item.get("code_sha256"))[:16])
        for source_id in sorted(set(i["source"] for i in todo)):
            src = by_id[source_id]
            if p["globals"] and src["kind"] == "container":
                plan, statements = _ingest.globals_plan(engine, src["container"], p["target"], p["user"], p["roles"])
                # Only the roles the approved card showed (their statements' sha256, from the controller).
                approved = set(i.get("globals_sha256") for i in todo if i["source"] == source_id)
                if approved != set([plan["sha256"]]):
                    raise _ingest.IngestError("ingest.error.roles_changed", container=p["target"], found=plan["sha256"],
                                              approved=", ".join(sorted(str(a) for a in approved)))
                before = _ingest.target_roles(engine, p["target"], p["user"])
                _ingest.apply_globals(engine, p["target"], p["user"], statements)
                result["changed"] = result["changed"] or bool(statements)
                # Created: what the server has now and had not before (read back), not what the plan meant to do.
                made = sorted(_ingest.target_roles(engine, p["target"], p["user"]) - before)
                for key, found in (("created", made), ("conflicts", plan["conflicts"]),
                                   ("skipped", plan["skipped"]), ("dropped", plan["dropped"])):
                    result["roles"][key] += [r for r in found if r not in result["roles"][key]]
        if todo:
            result["stale_loaders"] = _ingest.disarm_stale_loaders(engine, p["target"], p["user"])
        owners = owners_of(engine, todo, by_id, p, result)
        for item in todo:
            result["changed"] = True
            loaded = load_one(engine, item, by_id[item["source"]], p, owners[item["database"]], result["loaded"])
            result["mismatches"] += loaded["mismatches"]
    except (_ingest.IngestError, _pgdata.PgDataError, OSError) as exc:
        module.fail_json(msg=rendered(exc, p["language"]), evidence=evidence(result), **result)
    result["evidence"] = evidence(result)
    if result["mismatches"]:
        module.fail_json(msg=text(p["language"], "ingest.load.differ", tables="; ".join(
            _pgdata.describe(m, "target", p["language"]) for m in result["mismatches"])), **result)
    module.exit_json(msg="; ".join(text(p["language"], "ingest.load.ok_item", database=d["database"],
                                        count=len(d["comparisons"]), what=d["compared"]) for d in result["loaded"])
                     or text(p["language"], "ingest.load.nothing"), **result)


def evidence(result):
    """The load's evidence: a text log (every name from the source escaped: it may hold anything) and the JSON.
    Written for a failed load too, with what it did up to the failure."""
    lines = []
    for d in result["loaded"]:
        lines.append("%s %s <- %s: %s%s (pg_dump %s; pg_restore %s)" % (
            d["action"].upper(), shown(d["database"]), d["source"], d["method"],
            " in %.1f s" % d["seconds"] if "seconds" in d else "", d["tools"].get("pg_dump", "-"),
            d["tools"].get("pg_restore", "-")))
        lines += ["  %-8s %-40s source=%s target=%s%s" % (
            c["status"].upper(), shown(c["table"], 130), c["source"], c["target"],
            " checksum source=%s target=%s" % (c["source_checksum"], c["target_checksum"])
            if "source_checksum" in c else "") for c in d.get("comparisons") or []]
        if d.get("verified"):
            v = d["verified"]
            lines.append("  checked against the card in the target: code %s; schema %s (pg_dump %s / %s, servers %s / %s)"
                         % (v.get("code"), v.get("schema"), shown(str(v["pg_dump"][0])), shown(str(v["pg_dump"][1])),
                            v["servers"][0], v["servers"][1]))
        if d.get("restored_by"):
            lines.append("  restored by %s (a role made for the load, no attribute): %s" % (
                d["restored_by"], "read back dropped; what it made belongs to %s" % shown(d.get("owner"))
                if d.get("restored_by_dropped") else "NOT DROPPED (made NOLOGIN, no password): see the error"))
        lines += ["  restore error: %s" % e for e in d.get("restore_errors") or []]
        back = d.get("read_back")
        if back:
            lines.append("  read back from the target: owner %s, %d table(s), %s function(s)" % (
                shown(back.get("owner")), len(back.get("tables") or {}), back.get("functions")))
            lines += ["    %-40s owner=%s rows=%s" % (shown(name, 130), shown(t.get("owner")), t.get("rows"))
                      for name, t in sorted((back.get("tables") or {}).items())]
    lines.append("roles created (read back): %s; kept as they were (conflicts, not overwritten): %s; left out: %s" % (
        ", ".join(shown(r) for r in result["roles"]["created"]) or "-",
        ", ".join(shown(r) for r in result["roles"]["conflicts"]) or "-",
        "; ".join("%s %s%s" % (shown(d["role"]), d["what"], " " + ",".join(
            shown(x) for x in d.get("names") or [d.get("of") or ""])) for d in result["roles"]["dropped"]) or "-"))
    return [_result.evidence("ingest-load.log", text="\n".join(lines) + "\n"),
            {"name": "ingest-load.json", "content": dict((k, v) for k, v in result.items()
                                                         if k not in ("changed", "evidence"))}]


if __name__ == "__main__":
    main()
