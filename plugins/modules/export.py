#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: ssot.governance contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r'''
module: export
short_description: Write an environment's records from the postgresql store into a folder
version_added: 1.0.0
description:
  - Runs on the controller (an action plugin) and is what the C(ssot.governance.export) playbook calls.
  - Reads the records the C(ssot.governance.runbook) callback keeps in its C(postgresql) store (callback option
    C(store), C(SSOT_STORE)) for the environment of O(workspace) - the namespace named after the workspace folder -
    and writes them into O(dest) as the C(files) store would have - C(journal.jsonl), C(evidence/), C(logs/),
    C(runbook.json), C(project-panel.json), C(project-panel.html), C(checklist.md) - byte for byte as recorded,
    each file replaced atomically. C(ssot.governance.verify) then checks the folder like any workspace.
  - Takes the environment's lock first, so it never exports the middle of a run (a run in progress is named).
  - Refuses to overwrite a C(journal.jsonl) in O(dest) that is not the beginning of the store's journal (records of
    another history).
  - The DSN comes from the environment variable the callback option C(store_dsn_env) names (C(SSOT_STORE_DSN) by
    default), never from a file.
options:
  workspace:
    description: The environment's workspace folder (the one given as C(ssot_workspace)); its name is the namespace.
    type: path
    required: true
  dest:
    description: Folder to write the records into; O(workspace) when not given.
    type: path
  language:
    description:
      - Language of the messages, C(pt-BR) or C(en) (another value is ignored). Default, the environment variable
        C(SSOT_LANGUAGE), else C(pt-BR).
    type: str
extends_documentation_fragment:
  - ssot.governance.attributes
attributes:
  check_mode:
    support: full
    details: Counts what would be written, writes nothing.
  diff_mode:
    support: none
  idempotent:
    support: full
    details: A second export of the same records writes the same bytes.
author:
  - ssot.governance maintainers (@ssot-governance)
'''

EXAMPLES = r'''
- name: Export the records of db-legado-1 into its workspace
  ssot.governance.export:
    workspace: /runner/project/envs/db-legado-1
  environment:
    SSOT_STORE: postgresql
'''

RETURN = r'''
dest:
  description: The folder written.
  returned: success
  type: str
  sample: /runner/project/envs/db-legado-1
namespace:
  description: The environment's namespace in the store.
  returned: success
  type: str
  sample: db-legado-1
lines:
  description: Journal lines written.
  returned: success
  type: int
  sample: 412
files:
  description: Evidence files and views written.
  returned: success
  type: int
  sample: 37
'''

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.ssot.governance.plugins.module_utils import _text


def main():
    # The work is done by the action plugin of the same name, on the controller: this file is its manual.
    module = AnsibleModule(argument_spec=dict(
        workspace=dict(type="path", required=True),
        dest=dict(type="path"),
        language=dict(type="str"),
    ), supports_check_mode=True)
    module.fail_json(msg=_text.message(_text.operator_language(), "hitl.action_only", module="ssot.governance.export"))


if __name__ == "__main__":
    main()
