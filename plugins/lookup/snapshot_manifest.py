# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
name: snapshot_manifest
short_description: The manifest sha256 the journal recorded when a snapshot was taken
version_added: 1.0.0
description:
  - Reads the workspace's journal on the controller and returns for each snapshot folder given the sha256 of its
    manifest as recorded when it was taken (empty when none was recorded), from the lines the controller trusts
    only - chained, and covered by a seal of the run that wrote them under the trust root (C(SSOT_TRUST_ROOT)).
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
from ansible_collections.ssot.governance.plugins.module_utils._text import operator_language
from ansible_collections.ssot.governance.plugins.plugin_utils import _store, _trust, _verified


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        workspace = self.get_option("workspace")
        variables = variables or {}
        lang = operator_language(variables.get("ssot_language"))
        ssot = variables.get("ssot_doc") if isinstance(variables.get("ssot_doc"), dict) else {}
        try:
            # Only the lines the controller trusts (chained, covered by a seal of the run that wrote them, under the
            # trust root): a line appended by someone who can write the store names no manifest.
            journal = _verified.Journal(workspace, _trust.rules_for(ssot, workspace, workspace, lang), lang)
        except _store.StoreError as exc:
            raise AnsibleError(str(exc))
        if journal.refusal(workspace, lang):
            raise AnsibleError(journal.refusal(workspace, lang))
        return [journal.manifest(str(t).rstrip("/")) or "" for t in terms]
