#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: snapshot_verify
short_description: Re-hash a snapshot against its manifest and name what is missing, extra or altered
version_added: 1.0.0
description:
  - Streams every file listed in C(manifest.json) through sha256 and compares size and digest; checks that
    C(SHA256SUMS) says what the manifest says and, with O(manifest_sha256) (what the journal recorded when the
    snapshot was taken), that the manifest itself is unchanged. Files in the folder that the manifest does not list
    are reported as extra.
  - Fails, naming each file, when anything differs.
options:
  path:
    description: The snapshot folder.
    type: path
    required: true
  manifest_sha256:
    description: The manifest's sha256 as recorded when the snapshot was taken.
    type: str
  workspace:
    description:
      - The workspace whose journal recorded the snapshot. Read by the action on the controller, never sent to the
        host - the manifest's sha256 is taken from the journal lines the controller trusts (chained and covered by a
        seal), so an altered manifest is named too; a different O(manifest_sha256) then fails the task.
    type: path
extends_documentation_fragment:
  - ssot.governance.language
  - ssot.governance.attributes
  - ssot.governance.attributes.READ_ONLY
author:
  - ssot.governance maintainers (@ssot-governance)
'''

EXAMPLES = r'''
- name: Verify the snapshot
  ssot.governance.snapshot_verify:
    path: "{{ ssot_workspace_dir }}/snapshots/20261124T100000Z"
'''

RETURN = r'''
checked:
  description: How many files were re-hashed.
  returned: always
  type: int
  sample: 5
missing:
  description: Files the manifest lists that are not there.
  returned: always
  type: list
  elements: str
  sample: []
extra:
  description: Files in the folder that the manifest does not list.
  returned: always
  type: list
  elements: str
  sample: []
altered:
  description: Files whose size or sha256 differs (name, expected, found).
  returned: always
  type: list
  elements: dict
  sample: [{"name": "pg_dumpall.sql.gz", "expected": "9f2c...", "found": "0a11..."}]
snapshot:
  description:
    - The verdict for the recorder (the panel lists each snapshot with it); not kept in the registered result by
      the recorder's journal line, which holds it as its own record.
  returned: always
  type: dict
  sample: {"path": "/ws/snapshots/20261124T104220Z", "status": "verified", "files": 4}
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ssot.governance.plugins.module_utils._text import message as text, rendered
from ansible_collections.ssot.governance.plugins.module_utils import _result, _snapshot


def main():
    module = AnsibleModule(
        argument_spec=dict(
            language=dict(type="str", default="pt-BR"),
            path=dict(type="path", required=True),
            manifest_sha256=dict(type="str"),
            workspace=dict(type="path"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    # The recorded manifest is the controller's to give (the action reads the trusted journal lines).
    expected = p["manifest_sha256"]
    try:
        report = _snapshot.verify(p["path"], expected)
    except _snapshot.SnapshotError as exc:
        module.fail_json(msg=rendered(exc, p["language"]), checked=0, missing=[], extra=[], altered=[],
                         snapshot=_result.snapshot(p["path"], status="failed", files=0))
    report.pop("manifest", None)
    ok = report.pop("ok")
    report["snapshot"] = _result.snapshot(p["path"], status="verified" if ok else "failed", files=report["checked"])
    if not ok:
        names = report["missing"] + [a["name"] for a in report["altered"]] + report["extra"]
        module.fail_json(msg=text(p["language"], "snapshot.verify.failed", path=p["path"], names=", ".join(names)),
                         **report)
    module.exit_json(changed=False, msg=text(p["language"], "snapshot.verify.ok", count=report["checked"]), **report)


if __name__ == "__main__":
    main()
