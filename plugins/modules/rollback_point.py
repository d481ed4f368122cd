#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: rollback_point
short_description: Record what undoing a change needs, before the change, as its own journal record
version_added: 1.0.0
description:
  - Returns O(data) as a C(rollback) record (event C(point)) for the recorder, which keeps it as its own line of
    C(journal.jsonl), and as the evidence file C(rollback-<subject>.json) for people.
  - The C(ssot.governance.rollback) lookup reads it back for the rollback plays, with the tables recorded right after
    the change and whether it was already undone; nothing is found by file name.
  - Changes nothing; the record is kept only when the C(ssot.governance.runbook) callback is enabled (the
    collection's roles refuse to run without it).
options:
  subject:
    description: What the change is about.
    type: str
    required: true
    choices: [settings, pg_hba, exposure, ingest]
  data:
    description: What undoing the change needs (the values, file or container it replaces).
    type: dict
    required: true
extends_documentation_fragment:
  - ssot.governance.language
  - ssot.governance.attributes
  - ssot.governance.attributes.READ_ONLY
author:
  - ssot.governance maintainers (@ssot-governance)
'''

EXAMPLES = r'''
- name: Rollback data - the settings as they are before the change
  ssot.governance.rollback_point:
    subject: settings
    data:
      settings: "{{ __before }}"
'''

RETURN = r'''
rollback:
  description: The record for the recorder (taken out of the registered result).
  returned: always
  type: dict
  sample: {"subject": "settings", "event": "point", "data": {"settings": {"work_mem": "4MB"}}}
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ssot.governance.plugins.module_utils import _result


def main():
    module = AnsibleModule(argument_spec=dict(
        subject=dict(type="str", required=True, choices=list(_result.ROLLBACK_SUBJECTS)),
        data=dict(type="dict", required=True),
        language=dict(type="str", default="pt-BR")), supports_check_mode=True)
    p = module.params
    module.exit_json(changed=False, rollback=_result.rollback(p["subject"], "point", p["data"]),
                     evidence=[_result.evidence("rollback-%s.json" % p["subject"], content=p["data"])])


if __name__ == "__main__":
    main()
