# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
name: rollback
short_description: Read back from the journal what undoing the last change of a subject needs
version_added: 1.0.0
description:
  - Reads the workspace's C(journal.jsonl) line by line and returns, for the subject given, the last rollback
    point recorded before a change (by M(ssot.governance.rollback_point)), the tables recorded right after that
    change (by M(ssot.governance.changes_since)) and whether that change was already undone.
  - The journal is hash-chained and sealed; C(ssot.governance.verify) proves it was not rewritten. Nothing is
    found by evidence file name.
options:
  _terms:
    description: The subject - C(settings), C(pg_hba), C(exposure) or C(ingest).
    required: true
  workspace:
    description: The workspace folder (the role's C(ssot_workspace_dir)).
    type: path
    required: true
'''

EXAMPLES = r'''
- name: Rollback - what undoing the last ingestion needs
  ansible.builtin.set_fact:
    __last: "{{ lookup('ssot.governance.rollback', 'ingest', workspace=ssot_workspace_dir) }}"
'''

RETURN = r'''
_raw:
  description:
    - "C(point): the rollback data (C(data), C(at), C(run), C(seq)), or null when no change was recorded;
      C(fingerprint): the tables recorded right after it, or null; C(done): the record of its rollback, or null."
  type: dict
'''

from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase
from ansible_collections.ssot.governance.plugins.module_utils import _chain
from ansible_collections.ssot.governance.plugins.plugin_utils import _store
from ansible_collections.ssot.governance.plugins.module_utils._result import ROLLBACK_SUBJECTS
from ansible_collections.ssot.governance.plugins.module_utils._text import message, operator_language


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        lang = operator_language((variables or {}).get("ssot_language"))
        out = []
        for subject in terms:
            if subject not in ROLLBACK_SUBJECTS:
                raise AnsibleError(message(lang, "rollback.lookup.subject", subject=subject,
                                           subjects=", ".join(ROLLBACK_SUBJECTS)))
            workspace = self.get_option("workspace")
            try:
                # From the store the recorder writes to: the workspace's journal.jsonl, or the database.
                lines = list(_store.journal_lines(workspace, lang))
            except _store.StoreError as exc:
                raise AnsibleError(str(exc))
            out.append(_chain.rollback(workspace, subject, lines))
        return out
