# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
name: snapshot_manifest
short_description: The manifest sha256 the journal recorded when a snapshot was taken
version_added: 1.0.0
description:
  - Reads the workspace's C(journal.jsonl) on the controller, line by line, and returns for each snapshot folder
    given the sha256 of its manifest as recorded when it was taken (empty when none was recorded).
  - The snapshot itself stays on the target host (the SSOT's C(target.dir)); M(ssot.governance.snapshot_verify)
    runs there and compares the manifest with this value, so a manifest rewritten with its files is found.
options:
  _terms:
    description: Snapshot folders, as recorded (the C(dest) of M(ssot.governance.snapshot_capture)).
    required: true
  workspace:
    description: The workspace folder (the role's C(ssot_workspace_dir)).
    type: path
    required: true
'''

EXAMPLES = r'''
- name: Verify the snapshot where it is, against the manifest the journal recorded
  ssot.governance.snapshot_verify:
    path: "{{ snapshot_path }}"
    manifest_sha256: "{{ lookup('ssot.governance.snapshot_manifest', snapshot_path, workspace=ssot_workspace_dir) }}"
'''

RETURN = r'''
_raw:
  description: The recorded manifest sha256 of each folder, or an empty string.
  type: list
  elements: str
'''

from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase
from ansible_collections.ssot.governance.plugins.module_utils import _chain
from ansible_collections.ssot.governance.plugins.module_utils._text import operator_language
from ansible_collections.ssot.governance.plugins.plugin_utils import _store


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        workspace = self.get_option("workspace")
        try:
            # From the store the recorder writes to: the workspace's journal.jsonl, or the database.
            lines = list(_store.journal_lines(workspace, operator_language((variables or {}).get("ssot_language"))))
        except _store.StoreError as exc:
            raise AnsibleError(str(exc))
        return [_chain.recorded_manifest_sha256(workspace, str(t).rstrip("/"), lines) or "" for t in terms]
