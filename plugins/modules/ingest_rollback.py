#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: ingest_rollback
short_description: Bring the target back to the snapshot taken before an ingestion
version_added: 1.0.0
description:
  - Reads the rollback data an ingestion recorded before it changed anything (C(rollback-ingest.json) - the
    pre-ingest snapshot, the databases it was going to create or reload, the roles the target had).
  - Drops the databases the ingestion created; drops and restores from the pre-ingest snapshot's C(pg_dumpall) the
    databases it reloaded; drops the roles O(drop_roles) names (those the controller found that did not exist before,
    shown on the rollback's decision card) and no other. Then checks that the created databases are gone
    and that each restored database has the row counts it had before.
  - The copy of a reloaded database is replayed as the load replays a dump, never as a superuser - the database is
    created by the superuser, then its section runs as a role made for it (no attribute), the owners' statements
    left out, and what the role made goes to the database's owner, the role dropped; the database's own code (a
    CHECK constraint's function, once per row) runs as that role.
  - Verify the snapshot first (M(ssot.governance.snapshot_verify)); the role C(ssot.governance.ingest) does.
options:
  rollback:
    description: The rollback data (the C(__ingest_rollback) of the C(rollback-ingest.json) evidence).
    type: dict
    required: true
  target:
    description: The target container.
    type: str
    required: true
  drop_roles:
    description:
      - The roles to drop, decided by the controller (M(ssot.governance.change) with C(rollback=true)) from the
        server's roles now and the sealed rollback point's C(roles_before); a role not in the server is skipped.
    type: list
    elements: str
    default: []
  user:
    description: Database superuser in the container (socket, peer).
    type: str
    default: postgres
extends_documentation_fragment:
  - ssot.governance.language
  - ssot.governance.attributes
attributes:
  check_mode:
    support: none
    details: It drops and restores databases; the rollback data is the plan.
  diff_mode:
    support: none
  idempotent:
    support: partial
    details: A second run finds the created databases gone; reloaded databases are restored again.
author:
  - ssot.governance maintainers (@ssot-governance)
'''

EXAMPLES = r'''
- name: Roll an ingestion back
  ssot.governance.ingest_rollback:
    rollback: "{{ (__raw.content | b64decode | from_json).__ingest_rollback }}"
    target: legacy-pg-demo
'''

RETURN = r'''
dropped:
  description: Databases the ingestion had created, dropped.
  returned: always
  type: list
  elements: str
  sample: ["legacy_shop"]
restored:
  description: Databases the ingestion had reloaded, restored from the snapshot, with their row comparison.
  returned: always
  type: list
  elements: dict
  sample: []
roles_dropped:
  description: Roles that did not exist before the ingestion, dropped.
  returned: always
  type: list
  elements: str
  sample: ["shop_reader"]
evidence:
  description: What was undone, as a text log.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "ingest-rollback.log", "text": "..."}]
rollback:
  description:
    - For the recorder - the C(done) rollback record of the ingestion; the C(ssot.governance.rollback) lookup then
      refuses a second rollback of it.
  returned: when the rollback ran
  type: dict
  sample: {"subject": "ingest", "event": "done", "data": {"dropped": ["legacy_shop"], "restored": []}}
'''

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ssot.governance.plugins.module_utils._text import message as text, rendered
from ansible_collections.ssot.governance.plugins.module_utils import _engine, _lifeline, _result
from ansible_collections.ssot.governance.plugins.module_utils import _ingest, _pgdata, _snapshot


def main():
    module = AnsibleModule(argument_spec=dict(language=dict(type="str", default="pt-BR"),
                                              rollback=dict(type="dict", required=True), target=dict(type="str", required=True),
                                              user=dict(type="str", default="postgres"),
                                              drop_roles=dict(type="list", elements="str", default=[])),
                           supports_check_mode=False)
    p = module.params
    # Killed with the run: what this module starts (pg_dump, pg_restore, docker) stops with ansible-playbook.
    engine = _engine.Engine(module)
    _lifeline.start()
    data, target, user = p["rollback"], p["target"], p["user"]
    result = {"changed": False, "dropped": [], "restored": [], "roles_dropped": [], "role_errors": []}
    try:
        if data.get("target") and data["target"] != target:
            raise _ingest.IngestError("ingest.rollback.other_target", recorded=data["target"], target=target)
        folder = data.get("snapshot") or ""
        dump = next((f["name"] for f in data.get("snapshot_files") or [] if f.get("kind") == "dump"), None)
        num = int(_pgdata.psql(engine, target, "SHOW server_version_num", user=user)[0][0])
        # Everything needed is checked before anything is dropped.
        for entry in data.get("databases") or []:
            if entry["action"] != "load" and (not dump or not os.path.isfile(os.path.join(folder, dump))):
                raise _ingest.IngestError("ingest.rollback.no_dump", folder=folder, database=entry["name"])
        for entry in data.get("databases") or []:
            if entry["action"] != "load":
                # The copy's section as pg_dump wrote it, and a psql that refuses the text's backslash commands - or
                # nothing is dropped.
                _ingest.check_section(os.path.join(folder, dump), entry["name"])
                _ingest.restricted(engine, target)
        for entry in data.get("databases") or []:
            db = entry["name"]
            _ingest.drop_database(engine, target, db, user)
            result["changed"] = True
            if entry["action"] == "load":
                result["dropped"].append(db)
                continue
            if not dump or not os.path.isfile(os.path.join(folder, dump)):
                raise _ingest.IngestError("ingest.rollback.no_dump", folder=folder, database=db)
            # Replayed as a role made for it, never as a superuser: the database's own code (a CHECK constraint's,
            # an index expression's) runs while its rows are copied in and its indexes built (review 13).
            errors, replayed = _ingest.replay_database(engine, os.path.join(folder, dump), target, db, user, num)
            now = _pgdata.table_stats(engine, target, user, False, [db])
            before = {db: dict((t, {"rows": n}) for t, n in (entry.get("rows_before") or {}).items())}
            comparisons, mismatches = _pgdata.compare(before, now, "restored")
            result["restored"].append(dict(replayed, database=db, comparisons=comparisons, mismatches=mismatches,
                                           restore_errors=errors[:20]))
        if p["drop_roles"]:
            for role in sorted(_ingest.target_roles(engine, target, user) & set(p["drop_roles"])):
                try:
                    _pgdata.psql(engine, target, "DROP ROLE %s" % _ingest._quote_ident(role), user=user)
                    result["roles_dropped"].append(role)
                except _pgdata.PgDataError as exc:
                    result["role_errors"].append("%s: %s" % (role, rendered(exc, p["language"])))
        left = [db for db in result["dropped"] if db in _ingest.databases(engine, target, user)]
    except (_ingest.IngestError, _pgdata.PgDataError, _snapshot.SnapshotError, OSError) as exc:
        module.fail_json(msg=rendered(exc, p["language"]), **result)
    lines = ["-- rollback of the ingestion into %s from the pre-ingest snapshot %s" % (target, data.get("snapshot"))]
    lines += ["DROPPED  %s (created by the ingestion)" % db for db in result["dropped"]]
    for r in result["restored"]:
        lines.append("RESTORED %s: %d table(s), %d differ from before; replayed as %s (%d error line(s)); %d statement(s)"
                     " on the database itself as %s" % (r["database"], len(r["comparisons"]), len(r["mismatches"]),
                                                        r["restored_by"], len(r["restore_errors"]),
                                                        r["database_statements"], user))
        lines += ["  error: %s" % e for e in r["restore_errors"] + r["database_errors"]]
    lines += ["ROLE     %s dropped" % r for r in result["roles_dropped"]] + result["role_errors"]
    result["evidence"] = [_result.evidence("ingest-rollback.log", text="\n".join(lines) + "\n")]
    # Undone once: the lookup that reads this record refuses a second rollback of the same ingestion.
    result["rollback"] = _result.rollback("ingest", "done", {"dropped": result["dropped"],
                                                             "restored": [r["database"] for r in result["restored"]]})
    bad = left + ["%s %s" % (r["database"], m["table"]) for r in result["restored"] for m in r["mismatches"]]
    bad += [text(p["language"], "ingest.rollback.database_failed", database=r["database"], target=target,
                 errors="; ".join(r["database_errors"])) for r in result["restored"] if r["database_errors"]]
    # What the loader could not replay is a difference from the copy too (review 18: default privileges for the
    # owner, a grant made by another role - rc 0 before): a rollback with replay errors is incomplete.
    bad += [text(p["language"], "ingest.rollback.replay_errors", database=r["database"], count=len(r["restore_errors"]),
                 errors=_ingest.first_errors(r["restore_errors"])) for r in result["restored"] if r["restore_errors"]]
    if bad:
        module.fail_json(msg=text(p["language"], "ingest.rollback.incomplete", items=", ".join(bad)), **result)
    module.exit_json(msg=text(p["language"], "ingest.rollback.ok", dropped=len(result["dropped"]),
                              restored=len(result["restored"]), roles=len(result["roles_dropped"])), **result)


if __name__ == "__main__":
    main()
