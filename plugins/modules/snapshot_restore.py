#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: snapshot_restore
short_description: Prove a snapshot by restoring it into a fresh container and comparing its tables
version_added: 1.0.0
description:
  - Starts a fresh container from O(image) (no port published, no network - the dump's own code runs there as the
    superuser replaying it), streams the snapshot's C(pg_dumpall) into it, then counts the rows of every table of
    every database in the restored server and in O(source_container), and compares them one by one; with
    O(checksums), also a checksum of each table's content. The fresh container is removed afterwards unless O(keep).
  - Fails, naming each table that differs, when a count or a checksum does not match.
options:
  path:
    description: The snapshot folder (with C(manifest.json) and the dump).
    type: path
    required: true
  source_container:
    description: The container the snapshot was taken from.
    type: str
    required: true
  image:
    description:
      - Image for the fresh container. Defaults to the source container's image by id, as the manifest records it
        (a tag may have moved since).
    type: str
  name:
    description:
      - Name of the fresh container. A container of that name left by an earlier restore test of the same
        O(workspace) (it carries both labels) is replaced; any other container of that name is never touched - the
        module fails naming it.
    type: str
    required: true
  workspace:
    description:
      - The workspace the restore test belongs to, written on the fresh container as the label
        C(io.ssot-governance.workspace) beside C(io.ssot-governance.restore-test=true).
    type: path
    required: true
  user:
    description: Database superuser (socket, peer) in both containers.
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
  timeout:
    description: Seconds to wait for the fresh server.
    type: int
    default: 90
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
compat_rewrites:
  description:
    - Dump lines adapted because the dump's pg_dumpall is newer than the target server (pg_dump 15 and later write
      C(LOCALE_PROVIDER) in C(CREATE DATABASE), which older servers refuse; the clause is dropped).
  returned: always
  type: list
  elements: str
  sample: ["CREATE DATABASE legacy_shop WITH TEMPLATE = template0 ENCODING = 'UTF8' LOCALE = 'C';"]
restore_errors:
  description: ERROR lines psql printed while restoring (a fresh cluster already has the postgres role).
  returned: always
  type: list
  elements: str
  sample: ['psql:<stdin>:14: ERROR:  role "postgres" already exists']
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

import json
import os
import secrets
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ssot.governance.plugins.module_utils._text import message as text, rendered
from ansible_collections.ssot.governance.plugins.module_utils import _engine, _lifeline, _result
from ansible_collections.ssot.governance.plugins.module_utils import _pgdata, _snapshot


def wait_ready(engine, name, user, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if engine.exec(name, ["pg_isready", "-U", user, "-q"])[0] == 0:
            try:
                _pgdata.psql(engine, name, "SELECT 1", user=user)
                return
            except _pgdata.PgDataError:
                pass
        time.sleep(1)
    raise _snapshot.SnapshotError("snapshot.restore.not_ready", name=name, seconds=timeout)


RESTORE_LABEL = "io.ssot-governance.restore-test"
WORKSPACE_LABEL = "io.ssot-governance.workspace"


def main():
    module = AnsibleModule(argument_spec=dict(language=dict(type="str", default="pt-BR"),
                                              path=dict(type="path", required=True), source_container=dict(type="str", required=True),
                                              image=dict(type="str"), name=dict(type="str", required=True), workspace=dict(type="path", required=True),
                                              user=dict(type="str", default="postgres"), keep=dict(type="bool", default=False),
                                              checksums=dict(type="bool", default=False),
                                              timeout=dict(type="int", default=90)), supports_check_mode=False)
    p = module.params
    engine = _engine.Engine(module)
    # Killed with the run: what this module starts (pg_dump, pg_restore, docker) stops with ansible-playbook.
    _lifeline.start()
    try:
        with open(os.path.join(p["path"], _snapshot.MANIFEST)) as fh:
            manifest = json.load(fh)
    except (OSError, ValueError) as exc:
        module.fail_json(msg=text(p["language"], "snapshot.error.manifest", path=p["path"], error=exc), comparisons=[],
                         mismatches=[], restore_errors=[])
    dump = next((f["name"] for f in manifest.get("files", []) if f.get("kind") == "dump"), None)
    if not dump:
        module.fail_json(msg=text(p["language"], "snapshot.restore.no_dump"), comparisons=[], mismatches=[],
                         restore_errors=[])
    image = p["image"] or (manifest.get("source") or {}).get("image_id")
    if not image:
        module.fail_json(msg=text(p["language"], "snapshot.restore.no_image"), comparisons=[], mismatches=[],
                         restore_errors=[])
    result = {"comparisons": [], "mismatches": [], "restore_errors": [], "compat_rewrites": []}
    # Only a scratch container this collection made for this workspace may be replaced; anything else of that
    # name is someone's and stays, whatever it holds.
    labels = _snapshot.container_labels(engine, p["name"])
    if labels is not None:
        if labels.get(RESTORE_LABEL) != "true" or labels.get(WORKSPACE_LABEL) != p["workspace"]:
            module.fail_json(msg=text(p["language"], "snapshot.restore.foreign", name=p["name"]), **result)
        engine.run(["rm", "-f", "-v", p["name"]])
    created = False
    try:
        # No network: the dump's own code runs there as the superuser that replays it (a CHECK constraint's function
        # reached the target over the bridge with a password it found: review 12).
        rc, dummy, err = engine.run(["run", "-d", "--name", p["name"], "--network", "none", "--label",
                                     "%s=true" % RESTORE_LABEL, "--label", "%s=%s" % (WORKSPACE_LABEL, p["workspace"]),
                                     "-e", "POSTGRES_PASSWORD=" + secrets.token_urlsafe(18), image])
        if rc != 0:
            raise _snapshot.SnapshotError("snapshot.restore.docker_run", image=image, error=err.strip())
        created = True
        wait_ready(engine, p["name"], p["user"], p["timeout"])
        target_num = int(_pgdata.psql(engine, p["name"], "SHOW server_version_num", user=p["user"])[0][0])
        result["restore_errors"], result["compat_rewrites"] = _snapshot.restore(
            engine, os.path.join(p["path"], dump), p["name"], p["user"], target_num)
        source, restored = _pgdata.table_stats_both(engine, p["source_container"], p["name"], p["user"],
                                                    p["checksums"])
        result["comparisons"], result["mismatches"] = _pgdata.compare(source, restored)
    except (_snapshot.SnapshotError, _pgdata.PgDataError, OSError) as exc:
        module.fail_json(msg=rendered(exc, p["language"]), **result)
    finally:
        if created and not p["keep"]:
            engine.run(["rm", "-f", "-v", p["name"]])
    lines = ["-- restore test of %s into a fresh %s (%s)" % (p["path"], image, p["name"]), ""]
    lines[0] += " - row counts%s" % (" and content checksums" if p["checksums"] else "")
    lines += ["%-8s %-20s %-40s source=%s restored=%s%s" % (
        c["status"].upper(), c["database"], c["table"], c["source"], c["restored"],
        " checksum source=%s restored=%s" % (c["source_checksum"], c["restored_checksum"])
        if "source_checksum" in c else "") for c in result["comparisons"]]
    lines += ["", "-- psql errors while restoring: %d" % len(result["restore_errors"])] + result["restore_errors"][:20]
    if result["compat_rewrites"]:
        lines += ["", "-- dump lines adapted to the older target server (LOCALE_PROVIDER, pg_dump 15+):"]
        lines += result["compat_rewrites"][:20]
    evidence = [_result.evidence("restore-test.log", text="\n".join(lines) + "\n"),
                _result.evidence("restore-test.json", content=result)]
    record = _result.snapshot(p["path"], restore="failed" if result["mismatches"] else "passed")
    if result["mismatches"]:
        module.fail_json(msg=text(p["language"], "snapshot.restore.differ", tables=", ".join(
            _pgdata.describe(m, "restored", p["language"]) for m in result["mismatches"])), evidence=evidence,
            snapshot=record, **result)
    module.exit_json(changed=True, evidence=evidence, snapshot=record, msg=text(
        p["language"], "snapshot.restore.ok", count=len(result["comparisons"]),
        what=_pgdata.compared(p["checksums"], p["language"])), **result)


if __name__ == "__main__":
    main()
