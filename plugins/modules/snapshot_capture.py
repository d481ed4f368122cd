#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: snapshot_capture
short_description: Capture a replicable snapshot of a container into a folder, streamed and hashed
version_added: 1.0.0
description:
  - Writes into O(dest) what O(capture) names - C(container_inspect) (environment values masked), C(image_inspect),
    C(logs) (the last 500 lines), C(pg_dumpall) (plain or gzip), C(image_save) (the container committed as
    O(image_tag) and saved) - then C(manifest.json) (every file with size and sha256, source container and image ids,
    tool and server versions, the SSOT digest, creation time, the recipe) and C(SHA256SUMS).
  - The snapshot restores as it is stored. The dump is read as it streams to disk; the few lines a fresh server of
    the source's own major would refuse are adapted there, each listed in the manifest (C(adapted)) and the evidence -
    C(CREATE DATABASE) of a pg_dumpall newer than the server (C(LOCALE_PROVIDER), C(LOCALE)), and the C(CREATE ROLE)
    of the superuser a fresh cluster already has (run in a block that lets that one error pass). The rows of every
    table's C(COPY) are counted on the way into C(row-counts.txt), with the query that prints the same lines on a
    restored server (C(row-counts.sql)).
  - The manifest's C(restore) is the recipe a person pastes into a shell in the snapshot folder, and the one the
    restore test (M(ssot.governance.snapshot_restore)) runs - checking the files, a fresh container of the source's
    image with no network, the dump replayed by psql stopping at the first error, each database's tables and row
    counts printed against C(row-counts.txt).
  - Large outputs stream from the container to disk and are hashed on the way; nothing large passes through the
    module result or memory.
options:
  container:
    description: The source container.
    type: str
    required: true
  dest:
    description: The snapshot folder (created; must not hold a manifest already).
    type: path
    required: true
  capture:
    description: What to capture.
    type: list
    elements: str
    choices: [container_inspect, image_inspect, logs, pg_dumpall, image_save]
    default: [container_inspect, image_inspect, logs, pg_dumpall]
  compression:
    description: C(gzip) or C(none) for the dump.
    type: str
    choices: [gzip, none]
    default: gzip
  image_tag:
    description: Tag of the committed image (needed with C(image_save)).
    type: str
  user:
    description:
      - Database superuser for pg_dumpall inside the container (socket, peer), and the one the recipe restores as
        (a fresh cluster of the image has it).
    type: str
    default: postgres
  secrets:
    description: Secret values to mask in inspect output and logs (never written, never returned).
    type: list
    elements: str
    default: []
  ssot_digest:
    description: Digest of the SSOT in force, written in the manifest.
    type: str
    required: true
  server_version:
    description: The server's C(SELECT version()), written in the manifest.
    type: str
extends_documentation_fragment:
  - ssot.governance.language
  - ssot.governance.attributes
attributes:
  check_mode:
    support: none
    details: It writes the snapshot; a dry run is the size estimate before it.
  diff_mode:
    support: none
  idempotent:
    support: none
    details: Each run takes a new snapshot into O(dest).
author:
  - ssot.governance maintainers (@ssot-governance)
'''

EXAMPLES = r'''
- name: Snapshot the legacy container
  ssot.governance.snapshot_capture:
    container: legacy-pg-demo
    dest: "{{ ssot_workspace_dir }}/snapshots/20261124T100000Z"
    compression: gzip
    ssot_digest: "{{ ssot_digest }}"
'''

RETURN = r'''
dest:
  description: The snapshot folder.
  returned: success
  type: str
  sample: /srv/ws/snapshots/20261124T100000Z
files:
  description: Every file written, with name, size, sha256 and kind.
  returned: success
  type: list
  elements: dict
  sample: [{"name": "pg_dumpall.sql.gz", "size": 1843211, "sha256": "9f2c...", "kind": "dump"}]
manifest_sha256:
  description: sha256 of manifest.json (the journal keeps it; verify compares).
  returned: success
  type: str
  sample: 3b1f...
checks:
  description: A deviation when the dump was written by another major than the server's (the versions and the risk).
  returned: success
  type: list
  elements: dict
  sample: []
evidence:
  description: The manifest as evidence for the runbook callback (its sha256 goes into the journal), and the recipe.
  returned: success
  type: list
  elements: dict
  sample: [{"name": "snapshot-manifest.json", "content": {"files": []}}]
'''

import datetime
import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ssot.governance.plugins.module_utils._text import message as text, rendered
from ansible_collections.ssot.governance.plugins.module_utils import _engine, _lifeline, _result
from ansible_collections.ssot.governance.plugins.module_utils import _snapshot


def main():
    module = AnsibleModule(
        argument_spec=dict(
            language=dict(type="str", default="pt-BR"),
            container=dict(type="str", required=True),
            dest=dict(type="path", required=True),
            capture=dict(type="list", elements="str",
                         default=["container_inspect", "image_inspect", "logs", "pg_dumpall"],
                         choices=["container_inspect", "image_inspect", "logs", "pg_dumpall", "image_save"]),
            compression=dict(type="str", choices=["gzip", "none"], default="gzip"),
            image_tag=dict(type="str"),
            user=dict(type="str", default="postgres"),
            secrets=dict(type="list", elements="str", default=[], no_log=True),
            ssot_digest=dict(type="str", required=True),
            server_version=dict(type="str"),
        ),
        supports_check_mode=False,
    )
    p = module.params
    # Killed with the run: what this module starts (pg_dump, pg_restore, docker) stops with ansible-playbook.
    _lifeline.start()
    if "image_save" in p["capture"] and not p["image_tag"]:
        module.fail_json(msg=text(p["language"], "snapshot.capture.needs_tag"))
    if os.path.exists(p["dest"]):
        module.fail_json(msg=text(p["language"], "snapshot.capture.exists", dest=p["dest"]))
    # Captured into <dest>.partial and renamed only once the manifest is written: a folder named like a
    # snapshot is always a whole one. A failed capture removes its partial folder; one left by a killed run is
    # swept by the next capture into the same place.
    staging = _snapshot.staging_folder(p["dest"])
    try:
        files, facts = _snapshot.capture(_engine.Engine(module), p["container"], staging, p["capture"],
                                         p["compression"], p["user"], p["secrets"], p["image_tag"])
        facts["server_version"] = p["server_version"]
        manifest = _snapshot.write_manifest(staging, files, facts, {
            "schema_version": 1, "ssot_digest": p["ssot_digest"], "compression": p["compression"],
            "created_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")})
        manifest_sha = _snapshot.sha256_file(os.path.join(staging, _snapshot.MANIFEST))[1]
        os.rename(staging, p["dest"])
    except OSError as exc:
        _snapshot.discard(staging)
        module.fail_json(msg=_snapshot.disk_error(exc, p["dest"], p["language"]), dest=p["dest"])
    except (_snapshot.SnapshotError, ValueError) as exc:
        _snapshot.discard(staging)
        module.fail_json(msg=rendered(exc, p["language"]), dest=p["dest"])
    lines = ["-- the recipe of %s (manifest.json, restore): paste it in a shell inside that folder" % p["dest"], ""]
    lines += manifest["restore"] + ["", "-- lines adapted at capture so that a fresh server of the source's own major "
                                    "accepts the dump: %d" % len(manifest["adapted"])]
    for a in manifest["adapted"]:
        lines += ["line %d (%s):" % (a["line"], a["why"]), "  - " + a["original"], "  + " + a["adapted"]]
    module.exit_json(changed=True, dest=p["dest"], files=files, manifest_sha256=manifest_sha,
                     checks=_snapshot.version_checks(manifest, None, p["language"]),
                     evidence=[_result.evidence("snapshot-manifest.json", content=manifest),
                               _result.evidence("snapshot-recipe.txt", text="\n".join(lines) + "\n")])


if __name__ == "__main__":
    main()
