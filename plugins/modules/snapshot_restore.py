#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: snapshot_restore
short_description: Prove a snapshot by running its own recipe on a fresh container and comparing its tables
version_added: 1.0.0
description:
  - Runs the recipe the snapshot's C(manifest.json) prints for a person (its C(restore) lines), in the snapshot folder,
    through C(sh -e), and nothing else - C(sha256sum -c SHA256SUMS), a fresh container of the source's image by id
    with no network (the dump's own code runs there as the superuser replaying it), the dump replayed by psql
    stopping at the first error, then each database's tables and row counts printed against C(row-counts.txt).
    The recipe is first rebuilt from the manifest's facts by this collection's own code; a manifest whose recipe
    differs (edited, or written before recipes were checked) is refused, naming what to do.
  - Then counts the rows of every table of every database in the restored server and in O(source_container), and
    compares them one by one; with O(checksums), also a checksum of each table's content. The fresh container is
    removed afterwards unless O(keep).
  - Fails, naming the step or each table that differs. A server major other than the one the dump was written by, or
    an image psql older than it, is a deviation with the versions and the risk.
options:
  path:
    description: The snapshot folder (with C(manifest.json) and the dump).
    type: path
    required: true
  source_container:
    description: The container the snapshot was taken from.
    type: str
    required: true
  name:
    description:
      - Name of the fresh container (the recipe's C(RESTORED)). A container of that name left by an earlier restore
        test of the same O(workspace) (it carries both labels) is replaced; any other container of that name is never
        touched - the module fails naming it.
    type: str
    required: true
  workspace:
    description:
      - The workspace the restore test belongs to, written on the fresh container as the label
        C(io.ssot-governance.workspace) beside C(io.ssot-governance.restore-test=true) (the recipe's C(SSOT_WORKSPACE)).
    type: path
    required: true
  user:
    description: Database superuser (socket, peer) in the source container, for the comparison.
    type: str
    default: postgres
  checksums:
    description:
      - Also compare a checksum of every table's content, computed by each server (each value hashed with the
        server's hash function for its type, rows combined into 60 bits and summed, so the order rows were restored
        in does not matter). One full read of every table on both servers; same major only.
    type: bool
    default: false
  keep:
    description: Keep the fresh container after the comparison.
    type: bool
    default: false
  manifest_sha256:
    description:
      - The manifest's sha256 as recorded when the snapshot was taken (the action reads it from the journal's trusted
        lines on the controller). The manifest the recipe is built from must have it, at that moment, or nothing runs.
    type: str
  timeout:
    description: Seconds the recipe may take (C(0) - no limit; it waits at most 120 s for the fresh server itself).
    type: int
    default: 0
extends_documentation_fragment:
  - ssot.governance.language
  - ssot.governance.attributes
attributes:
  check_mode:
    support: none
    details: It starts a container and restores into it; the source is only read.
  diff_mode:
    support: none
  idempotent:
    support: none
    details: Each run restores into a fresh container (removed afterwards unless O(keep)) and compares again.
author:
  - ssot.governance maintainers (@ssot-governance)
'''

EXAMPLES = r'''
- name: Restore test
  ssot.governance.snapshot_restore:
    path: "{{ snapshot_dir }}"
    source_container: legacy-pg-demo
    name: legacy-pg-demo-restore-test
'''

RETURN = r'''
comparisons:
  description: Per database and table - source rows, restored rows, status (match or mismatch).
  returned: always
  type: list
  elements: dict
  sample: [{"database": "legacy_shop", "table": "public.orders", "source": 3000, "restored": 3000, "status": "match",
            "source_checksum": "1729382256910270464", "restored_checksum": "1729382256910270464"}]
mismatches:
  description: The comparisons that differ.
  returned: always
  type: list
  elements: dict
  sample: []
recipe:
  description: The recipe's lines as they ran (the manifest's C(restore)).
  returned: always
  type: list
  elements: str
  sample: ["sha256sum -c SHA256SUMS", "RESTORED=\"${RESTORED:-restored}\""]
output:
  description: The last lines the recipe printed (stdout and stderr as they came).
  returned: always
  type: list
  elements: str
  sample: ["pg_dumpall.sql.gz: OK", "OK: every table of row-counts.txt restored with its rows"]
manifest_sha256:
  description: The sha256 of the manifest the recipe was built from (the controller compares it with the recorded one).
  returned: always
  type: str
  sample: 6b64ed85...
checks:
  description: Deviations about versions (a dump written by another major than the server's, an image psql older than
    the pg_dumpall that wrote the dump), with the risk.
  returned: always
  type: list
  elements: dict
  sample: []
evidence:
  description: The comparison as a text log and as JSON, for the runbook callback.
  returned: always
  type: list
  elements: dict
  sample: [{"name": "restore-test.log", "text": "..."}]
snapshot:
  description: The restore test's verdict for the recorder (the panel shows it beside the snapshot).
  returned: when the restore ran
  type: dict
  sample: {"path": "/ws/snapshots/20261124T104220Z", "restore": "passed"}
'''

import hashlib
import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ssot.governance.plugins.module_utils._text import message as text, rendered
from ansible_collections.ssot.governance.plugins.module_utils import _engine, _lifeline, _result
from ansible_collections.ssot.governance.plugins.module_utils import _pgdata, _snapshot


RESTORE_LABEL = "io.ssot-governance.restore-test"
WORKSPACE_LABEL = "io.ssot-governance.workspace"


def ours(engine, name, workspace):
    """Whether the container ``name`` is one a restore test of ``workspace`` made (True), someone else's (False) or
    absent (None)."""
    labels = _snapshot.container_labels(engine, name)
    if labels is None:
        return None
    return labels.get(RESTORE_LABEL) == "true" and labels.get(WORKSPACE_LABEL) == workspace


def main():
    module = AnsibleModule(argument_spec=dict(language=dict(type="str", default="pt-BR"),
                                              path=dict(type="path", required=True), source_container=dict(type="str", required=True),
                                              name=dict(type="str", required=True), workspace=dict(type="path", required=True),
                                              user=dict(type="str", default="postgres"), keep=dict(type="bool", default=False),
                                              checksums=dict(type="bool", default=False), manifest_sha256=dict(type="str"),
                                              timeout=dict(type="int", default=0)), supports_check_mode=False)
    p = module.params
    lang = p["language"]
    engine = _engine.Engine(module)
    # Killed with the run: what this module starts (the recipe's docker and psql) stops with ansible-playbook.
    _lifeline.start()
    result = {"comparisons": [], "mismatches": [], "recipe": [], "output": [], "checks": [], "manifest_sha256": None}
    try:
        # Read once: the bytes hashed are the bytes the recipe is built from.
        with open(os.path.join(p["path"], _snapshot.MANIFEST), "rb") as fh:
            raw = fh.read()
        result["manifest_sha256"] = hashlib.sha256(raw).hexdigest()
        manifest = json.loads(raw.decode("utf-8"))
    except (OSError, ValueError) as exc:
        module.fail_json(msg=text(lang, "snapshot.error.manifest", path=p["path"], error=exc), **result)
    if p["manifest_sha256"] and result["manifest_sha256"] != p["manifest_sha256"]:
        module.fail_json(msg=text(lang, "snapshot.restore.manifest_differs", path=p["path"],
                                  recorded=p["manifest_sha256"], found=result["manifest_sha256"]), **result)
    if not any(f.get("kind") == "dump" for f in manifest.get("files") or []):
        module.fail_json(msg=text(lang, "snapshot.restore.no_dump"), **result)
    # The recipe a person follows, rebuilt here from the manifest's facts: the lines that run are this collection's,
    # never shell text read from a file (a manifest is a workspace file; its facts are quoted as values).
    try:
        expected = _snapshot.recipe(manifest)
    except _snapshot.SnapshotError as exc:
        module.fail_json(msg=rendered(exc, lang), **result)
    if not expected or manifest.get("restore") != expected:
        module.fail_json(msg=text(lang, "snapshot.restore.recipe_differs", path=p["path"]), **result)
    result["recipe"] = expected
    # Only a scratch container this collection made for this workspace may be replaced; anything else of that
    # name is someone's and stays, whatever it holds.
    found = ours(engine, p["name"], p["workspace"])
    if found is False:
        module.fail_json(msg=text(lang, "snapshot.restore.foreign", name=p["name"]), **result)
    if found:
        engine.run(["rm", "-f", "-v", p["name"]])
    try:
        rc, result["output"] = engine.script("\n".join(expected) + "\n", p["path"],
                                             {"RESTORED": p["name"], "SSOT_WORKSPACE": p["workspace"]},
                                             p["timeout"] or None)
        if ours(engine, p["name"], p["workspace"]):
            psql_version = engine.exec(p["name"], ["psql", "--version"])[1].strip()
            result["checks"] = _snapshot.version_checks(manifest, psql_version, lang)
        if rc != 0:
            raise _snapshot.SnapshotError("snapshot.restore.recipe_failed", rc="timeout" if rc is None else rc,
                                          output=" | ".join(result["output"][-6:]))
        # Every database the dump holds, templates too, on both servers.
        source, restored = _pgdata.table_stats_both(engine, p["source_container"], p["name"], p["user"],
                                                    p["checksums"], manifest["restore_check"]["databases"],
                                                    templates=True)
        result["comparisons"], result["mismatches"] = _pgdata.compare(source, restored)
    except (_snapshot.SnapshotError, _pgdata.PgDataError, OSError) as exc:
        module.fail_json(msg=rendered(exc, lang), evidence=evidence(p, result),
                         snapshot=_result.snapshot(p["path"], restore="failed", recipe=expected), **result)
    finally:
        if not p["keep"] and ours(engine, p["name"], p["workspace"]):
            engine.run(["rm", "-f", "-v", p["name"]])
    record = _result.snapshot(p["path"], restore="failed" if result["mismatches"] else "passed", recipe=expected)
    if result["mismatches"]:
        module.fail_json(msg=text(lang, "snapshot.restore.differ", tables=", ".join(
            _pgdata.describe(m, "restored", lang) for m in result["mismatches"])), evidence=evidence(p, result),
            snapshot=record, **result)
    module.exit_json(changed=True, evidence=evidence(p, result), snapshot=record, msg=text(
        lang, "snapshot.restore.ok", count=len(result["comparisons"]), what=_pgdata.compared(p["checksums"], lang)),
        **result)


def evidence(p, result):
    lines = ["-- restore test of %s: its recipe (manifest.json, restore), run as printed in a fresh container %s"
             % (p["path"], p["name"]), ""]
    lines += ["$ " + line for line in result["recipe"]] + ["", "-- what it printed (last lines):"]
    lines += result["output"] + ["", "-- then every table compared with the source (row counts%s):"
                                 % (" and content checksums" if p["checksums"] else "")]
    lines += ["%-8s %-20s %-40s source=%s restored=%s%s" % (
        c["status"].upper(), c["database"], c["table"], c["source"], c["restored"],
        " checksum source=%s restored=%s" % (c["source_checksum"], c["restored_checksum"])
        if "source_checksum" in c else "") for c in result["comparisons"]]
    lines += ["", "-- versions:"] + ([c["actual"] for c in result["checks"]] or ["same major"])
    return [_result.evidence("restore-test.log", text="\n".join(lines) + "\n"),
            _result.evidence("restore-test.json", content=result)]


if __name__ == "__main__":
    main()
